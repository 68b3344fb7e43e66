#pragma once

#include "net/streamrecord.h"
#include "ui/streamconnection.h"

#include <QFutureWatcher>
#include <QPointer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;
class QStackedWidget;
class QTableView;
class QToolButton;

namespace sessionscope {

class ConversationModel;
class StreamRecordFilterModel;
class StreamRecordModel;
class TranscriptView;

// Live `.out` and `.in` records: filters by channel, kind, type and text,
// pause/follow, jump to seq, a detail pane (pretty JSON and headers, built
// off the UI thread), the state of both subscriptions and a rendered/raw
// toggle that shows the conversation as a transcript.
class StreamInspector : public QWidget
{
    Q_OBJECT

public:
    explicit StreamInspector(QWidget *parent = nullptr);

    void setModels(StreamRecordModel *records, ConversationModel *conversation);
    void setStreamStatus(Channel channel, const StreamStatus &status);
    // A problem the user should see here (stream or decode error), kept with a count.
    void showError(const QString &message);
    // Offline mode: a file is shown, no connection.
    void setSourceDescription(const QString &text);

    void setRendered(bool rendered);
    bool isRendered() const;
    bool isPaused() const;
    bool jumpToSeq(Channel channel, qint64 seq);

    QTableView *recordView() const { return m_table; }
    TranscriptView *transcriptView() const { return m_transcript; }
    StreamRecordFilterModel *filterModel() const { return m_filter; }
    QPlainTextEdit *detailPane() const { return m_detail; }
    QString errorText() const;

Q_SIGNALS:
    void pauseToggled(bool paused);

private:
    void applyFilters();
    void showDetail(const QModelIndex &proxyIndex);
    void onRowsInserted();
    void updateCounts();

    QPointer<StreamRecordModel> m_records;
    StreamRecordFilterModel *m_filter;
    QStackedWidget *m_stack;
    QTableView *m_table;
    QPlainTextEdit *m_detail;
    TranscriptView *m_transcript;
    QToolButton *m_rawButton;
    QToolButton *m_renderedButton;
    QComboBox *m_channel;
    QCheckBox *m_kindData;
    QCheckBox *m_kindControl;
    QCheckBox *m_kindCommand;
    QLineEdit *m_types;
    QLineEdit *m_search;
    QToolButton *m_pause;
    QCheckBox *m_follow;
    QComboBox *m_jumpChannel;
    QSpinBox *m_jumpSeq;
    QLabel *m_outState;
    QLabel *m_inState;
    QLabel *m_counts;
    QLabel *m_error;
    QFutureWatcher<QString> m_detailWatcher;
    QString m_detailHeaders;
    int m_errorCount = 0;
};

} // namespace sessionscope
