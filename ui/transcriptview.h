#pragma once

#include <QPointer>
#include <QTextBrowser>
#include <QTimer>

namespace sessionscope {

class ConversationModel;

// The rendered side of the inspector: the ConversationModel as a chat
// transcript (user and assistant bubbles, reasoning, tool calls, turn ends,
// upgrade markers). Re-rendered at most ten times a second however fast
// deltas arrive, and only the newest entries, so it stays cheap.
class TranscriptView : public QTextBrowser
{
    Q_OBJECT

public:
    static constexpr int MaxEntries = 300;

    explicit TranscriptView(QWidget *parent = nullptr);

    void setConversationModel(ConversationModel *model);
    // The transcript as plain text, for tests and the clipboard.
    QString plainTranscript() const;

protected:
    void showEvent(QShowEvent *event) override;

private:
    void scheduleRender();
    void render();

    QPointer<ConversationModel> m_model;
    QTimer m_renderTimer;
    // A render was skipped while hidden (the inspector's raw view is on top):
    // rebuilding the HTML of a long conversation costs the UI thread 100+ ms.
    bool m_stale = false;
};

} // namespace sessionscope
