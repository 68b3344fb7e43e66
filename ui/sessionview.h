#pragma once

#include "net/result.h"
#include "net/sessionsclient.h"
#include "net/streamrecord.h"

#include <QDateTime>
#include <QPointer>
#include <QTimer>
#include <QWidget>

class QLabel;
class QTabWidget;

namespace sessionscope {

class BackendConnection;
class ClientDataPanel;
class ComposerPanel;
class ClientDataProvenanceModel;
class ConversationModel;
class DeploymentsClient;
class InAppender;
class ObservedHistory;
class RunHistoryModel;
class RunHistoryView;
class SessionOverview;
class StreamConnection;
class StreamIngest;
class StreamInspector;
class StreamRecordModel;
class TimelineStrip;
class TokenManager;
class UpgradeAuditModel;
class UpgradeAuditView;
struct RecordBatch;

// One watched session: the stream inspector, overview, runs and upgrade
// audit on the left; composer and clientData on the right; the timeline
// strip below. Live sessions follow `.out` and `.in`; an exported file opens
// the same view offline (no composer).
class SessionView : public QWidget
{
    Q_OBJECT

public:
    // Live: follows `sessionId` on the connection's backend.
    SessionView(BackendConnection *connection, const QString &sessionId, QWidget *parent = nullptr);
    // Offline: shows records read from an exported file.
    SessionView(const QString &title, const QList<QPair<Channel, StreamRecord>> &records, QWidget *parent = nullptr);
    ~SessionView() override;

    QString sessionId() const { return m_sessionId; }
    QString title() const;
    bool isOffline() const { return m_connection == nullptr; }
    // The public access token the create call answered, when this console created the session.
    void setInitialToken(const QString &token);

    StreamInspector *inspector() const { return m_inspector; }
    ComposerPanel *composer() const { return m_composer; }
    ClientDataPanel *clientDataPanel() const { return m_clientData; }
    RunHistoryView *runsView() const { return m_runsView; }
    UpgradeAuditView *auditView() const { return m_auditView; }
    SessionOverview *overview() const { return m_overview; }
    TimelineStrip *timeline() const { return m_timeline; }
    QTabWidget *tabs() const { return m_tabs; }
    StreamRecordModel *recordModel() const { return m_records; }
    ConversationModel *conversationModel() const { return m_conversation; }
    RunHistoryModel *runModel() const { return m_runs; }
    UpgradeAuditModel *auditModel() const { return m_audit; }
    const SessionItem &session() const { return m_session; }

    // Shows a problem in the banner at the top of this view.
    void showProblem(const QString &message);
    QString problemText() const;

Q_SIGNALS:
    void titleChanged(const QString &title);
    // For notifications: something the developer watching several sessions should hear about.
    void upgraded(const QString &sessionId, const QString &detail);
    void errorOccurred(const QString &sessionId, const QString &message);
    void tokenExpiring(const QString &sessionId, qint64 secondsLeft);

private:
    void buildUi(bool offline);
    void wireModels();
    void startLive();
    void retrieveSession();
    void onOutRecords(const QList<sessionscope::StreamRecord> &records);
    void useObservedHistory(ObservedHistory *history);
    void onBatch(const RecordBatch &batch);
    void sendWithClientData();

    QPointer<BackendConnection> m_connection;
    QString m_sessionId;
    QString m_offlineTitle;
    SessionItem m_session;
    bool m_sessionKnown = false;
    bool m_seededSend = false;

    StreamIngest *m_ingest = nullptr;
    StreamRecordModel *m_records = nullptr;
    ConversationModel *m_conversation = nullptr;
    RunHistoryModel *m_runs = nullptr;
    UpgradeAuditModel *m_audit = nullptr;
    InAppender *m_appender = nullptr;
    TokenManager *m_tokens = nullptr;
    ClientDataProvenanceModel *m_provenance = nullptr;
    QPointer<ObservedHistory> m_history;
    DeploymentsClient *m_deployments = nullptr;
    StreamConnection *m_out = nullptr;
    StreamConnection *m_in = nullptr;
    QTimer m_refreshTimer;

    QLabel *m_header = nullptr;
    QLabel *m_banner = nullptr;
    QTabWidget *m_tabs = nullptr;
    StreamInspector *m_inspector = nullptr;
    SessionOverview *m_overview = nullptr;
    RunHistoryView *m_runsView = nullptr;
    UpgradeAuditView *m_auditView = nullptr;
    ComposerPanel *m_composer = nullptr;
    ClientDataPanel *m_clientData = nullptr;
    TimelineStrip *m_timeline = nullptr;
};

} // namespace sessionscope
