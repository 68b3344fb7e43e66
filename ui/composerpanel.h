#pragma once

#include "net/result.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QHash>
#include <QJsonValue>
#include <QPointer>
#include <QTimer>
#include <QWidget>

#include <functional>
#include <optional>

class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;

namespace sessionscope {

class ConversationModel;
class InAppender;

// Writes to `.in`: messages, stop, regenerate, actions (JSON) and answers to
// pending tool approvals. Every send is a row: its X-Part-Id, the `.in` seq
// the append returned, retries, and the turn-complete that answered it; a
// turn-complete with no content after a send is flagged as the likely sign
// of clientData the agent's schema refused.
class ComposerPanel : public QWidget
{
    Q_OBJECT

public:
    using ClientDataSource = std::function<Result<QJsonValue>()>;

    explicit ComposerPanel(QWidget *parent = nullptr);

    void setAppender(InAppender *appender);
    void setConversationModel(ConversationModel *model);
    // Where each message's clientData comes from (the clientData panel).
    void setClientDataSource(ClientDataSource source) { m_clientData = std::move(source); }
    void setReadOnly(bool readOnly, const QString &why = {});

    // Counts content per turn before the appender matches turn-completes to
    // sends, then hands the records on to it.
    void observeRecords(const QList<sessionscope::StreamRecord> &records);

    // Sends the message box's text (or `text` when given) with the current clientData.
    QString sendMessage(const QString &text = {});
    QString sendStop();
    QString sendRegenerate();
    QString sendAction(const QString &json);

    QPlainTextEdit *messageEdit() const { return m_message; }
    QTableWidget *sendsTable() const { return m_sends; }
    QPushButton *sendButton() const { return m_sendButton; }
    QPushButton *stopButton() const { return m_stopButton; }
    // The state column of a send, for tests ("appended", "answered", ...).
    QString sendState(const QString &partId) const;
    QString answeredBy(const QString &partId) const;

Q_SIGNALS:
    // A message left with this clientData (the clientData panel's "last sent").
    void clientDataSent(const QJsonValue &clientData);
    // An append came back with its `.in` seq.
    void sendAppended(qint64 inSeq, const QDateTime &sentAt, const QJsonValue &clientData);
    void problem(const QString &message);
    void emptyTurnFlagged(const QString &partId, qint64 turnCompleteSeq);

private:
    struct SendRow
    {
        int row = -1;
        QDateTime sentAt;
        QJsonValue clientData;
    };
    QString track(const QString &kind, const QString &partId, const QJsonValue &clientData);
    void setCell(const QString &partId, int column, const QString &text, const QColor &colour = {});
    void refreshApprovals();
    void respondToApproval(bool approved);
    // The clientData to send, or nullopt after telling the user why not.
    std::optional<QJsonValue> currentClientData();

    QPointer<InAppender> m_appender;
    QPointer<ConversationModel> m_conversation;
    ClientDataSource m_clientData;
    QPlainTextEdit *m_message;
    QPushButton *m_sendButton;
    QPushButton *m_stopButton;
    QPushButton *m_regenerateButton;
    QLineEdit *m_action;
    QPushButton *m_actionButton;
    QListWidget *m_approvals;
    QPushButton *m_approve;
    QPushButton *m_deny;
    QTableWidget *m_sends;
    QLabel *m_note;
    QHash<QString, SendRow> m_rows;
    QHash<qint64, bool> m_emptyTurns; // turn-complete seq -> no data records in its turn
    int m_dataInTurn = 0;
    QTimer m_approvalTimer;
};

} // namespace sessionscope
