#include "ui/sessionview.h"

#include "net/observedhistory.h"
#include "models/clientdataprovenancemodel.h"
#include "models/conversationmodel.h"
#include "models/recordbatchdecoder.h"
#include "models/runhistorymodel.h"
#include "models/streamingest.h"
#include "models/streamrecordmodel.h"
#include "models/upgradeauditjoin.h"
#include "models/upgradeauditmodel.h"
#include "net/inappender.h"
#include "net/tokenmanager.h"
#include "ui/backendconnection.h"
#include "ui/clientdatapanel.h"
#include "ui/composerpanel.h"
#include "ui/deploymentsclient.h"
#include "ui/runhistoryview.h"
#include "ui/sessionoverview.h"
#include "ui/streamconnection.h"
#include "ui/streaminspector.h"
#include "ui/timelinestrip.h"
#include "ui/upgradeauditview.h"

#include <QDateTime>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QTabWidget>
#include <QToolButton>
#include <QVBoxLayout>

namespace sessionscope {

SessionView::SessionView(BackendConnection *connection, const QString &sessionId, QWidget *parent)
    : QWidget(parent), m_connection(connection), m_sessionId(sessionId)
{
    buildUi(false);
    wireModels();
    startLive();
}

SessionView::SessionView(const QString &title, const QList<QPair<Channel, StreamRecord>> &records, QWidget *parent)
    : QWidget(parent), m_offlineTitle(title)
{
    buildUi(true);
    wireModels();
    m_inspector->setSourceDescription(tr("<b>offline</b> · %1 · %n record(s)", nullptr, int(records.size()))
                                          .arg(title.toHtmlEscaped()));
    m_header->setText(tr("<b>%1</b> · opened from an exported file").arg(title.toHtmlEscaped()));
    // Consecutive records of one channel go to the ingest together.
    QList<StreamRecord> run;
    Channel current = Channel::Out;
    for (const auto &[channel, record] : records) {
        if (channel != current && !run.isEmpty()) {
            m_ingest->feedRecords(current, run);
            run.clear();
        }
        current = channel;
        run.append(record);
    }
    if (!run.isEmpty())
        m_ingest->feedRecords(current, run);
    m_ingest->flush();
}

SessionView::~SessionView()
{
    // Subscriptions feed the ingest from the network thread: gone first.
    delete m_out;
    delete m_in;
    m_out = m_in = nullptr;
}

void SessionView::buildUi(bool offline)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(4);
    m_header = new QLabel(this);
    m_header->setTextFormat(Qt::RichText);
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_header);

    auto *bannerRow = new QWidget(this);
    auto *bannerLayout = new QHBoxLayout(bannerRow);
    bannerLayout->setContentsMargins(0, 0, 0, 0);
    m_banner = new QLabel(bannerRow);
    m_banner->setWordWrap(true);
    m_banner->setStyleSheet(QStringLiteral("QLabel { background:#fff3e0; color:#bf360c; padding:4px 6px; "
                                           "border:1px solid #ffcc80; border-radius:3px; }"));
    auto *dismiss = new QToolButton(bannerRow);
    dismiss->setText(QStringLiteral("✕"));
    dismiss->setAutoRaise(true);
    bannerLayout->addWidget(m_banner, 1);
    bannerLayout->addWidget(dismiss);
    bannerRow->hide();
    connect(dismiss, &QToolButton::clicked, bannerRow, &QWidget::hide);
    layout->addWidget(bannerRow);

    auto *split = new QSplitter(Qt::Horizontal, this);
    split->setObjectName(QStringLiteral("sessionSplitter"));
    m_tabs = new QTabWidget(split);
    m_inspector = new StreamInspector(m_tabs);
    m_overview = new SessionOverview(m_tabs);
    m_runsView = new RunHistoryView(m_tabs);
    m_auditView = new UpgradeAuditView(m_tabs);
    m_tabs->addTab(m_inspector, tr("Stream inspector"));
    m_tabs->addTab(m_overview, tr("Overview"));
    m_tabs->addTab(m_runsView, tr("Runs"));
    m_tabs->addTab(m_auditView, tr("Upgrade audit"));

    auto *side = new QTabWidget(split);
    m_composer = new ComposerPanel(side);
    m_clientData = new ClientDataPanel(side);
    // The clientData panel (editor, versions, per-turn table) is taller than
    // a laptop screen: it scrolls vertically instead of setting the window's
    // minimum height, and is never squeezed narrower than its contents.
    auto *clientDataScroll = new QScrollArea(side);
    clientDataScroll->setObjectName(QStringLiteral("clientDataScroll"));
    clientDataScroll->setWidgetResizable(true);
    clientDataScroll->setFrameShape(QFrame::NoFrame);
    clientDataScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    clientDataScroll->setWidget(m_clientData);
    clientDataScroll->setMinimumWidth(m_clientData->minimumSizeHint().width() +
                                      clientDataScroll->verticalScrollBar()->sizeHint().width());
    auto *sideSplit = new QSplitter(Qt::Vertical, side);
    sideSplit->addWidget(m_composer);
    sideSplit->addWidget(clientDataScroll);
    sideSplit->setStretchFactor(0, 1);
    sideSplit->setStretchFactor(1, 1);
    side->addTab(sideSplit, tr("Composer · clientData"));
    split->addWidget(m_tabs);
    split->addWidget(side);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    m_timeline = new TimelineStrip(this);
    layout->addWidget(m_timeline);

    if (offline) {
        side->hide();
        m_composer->setReadOnly(true, tr("Offline: this view shows an exported file."));
    }
}

void SessionView::wireModels()
{
    m_ingest = new StreamIngest(this);
    m_records = new StreamRecordModel(this);
    m_conversation = new ConversationModel(this);
    m_runs = new RunHistoryModel(this);
    m_audit = new UpgradeAuditModel(this);
    m_provenance = new ClientDataProvenanceModel(this);
    m_provenance->followConversation(m_conversation);
    m_clientData->setProvenanceModel(m_provenance);
    m_ingest->setRecordModel(m_records);
    m_ingest->setConversationModel(m_conversation);
    m_audit->followRunHistory(m_runs);
    m_inspector->setModels(m_records, m_conversation);
    m_runsView->setModel(m_runs);
    m_auditView->setModel(m_audit);
    m_composer->setConversationModel(m_conversation);

    connect(m_ingest, &StreamIngest::recordBatchReady, this, &SessionView::onBatch);
    connect(m_ingest, &StreamIngest::errorsOccurred, this, [this](const QList<Error> &errors) {
        for (const Error &e : errors)
            m_inspector->showError(e.message);
        if (!errors.isEmpty())
            Q_EMIT errorOccurred(m_sessionId, errors.last().message);
    });
    connect(m_conversation, &ConversationModel::errorsOccurred, this, [this](const QList<Error> &errors) {
        for (const Error &e : errors)
            m_inspector->showError(tr("conversation: %1").arg(e.message));
    });
    connect(m_auditView, &UpgradeAuditView::showRecordRequested, this, [this](qint64 seq) {
        m_tabs->setCurrentWidget(m_inspector);
        m_inspector->setRendered(false);
        m_inspector->jumpToSeq(Channel::Out, seq);
    });
    connect(m_runs, &RunHistoryModel::entriesChanged, this, [this] {
        const int row = m_runs->rowForRun(m_session.currentRunId);
        if (row >= 0)
            m_overview->setRunVersion(m_session.currentRunId,
                                      m_runs->index(row, 0).data(RunHistoryModel::VersionRole).toString());
        Q_EMIT titleChanged(title());
    });
}

void SessionView::startLive()
{
    SessionsClient *client = m_connection ? m_connection->client() : nullptr;
    if (!client) {
        showProblem(tr("Not connected to a backend."));
        return;
    }
    const ConnectionProfile profile = m_connection->profile();
    m_header->setText(tr("<b>%1</b> · loading…").arg(m_sessionId.toHtmlEscaped()));

    m_appender = new InAppender(profile, m_sessionId, this);
    m_tokens = new TokenManager(this);
    m_composer->setAppender(m_appender);
    m_composer->setClientDataSource([this] { return m_clientData->clientData(); });
    connect(m_composer, &ComposerPanel::clientDataSent, m_clientData, &ClientDataPanel::setLastSent);
    connect(m_composer, &ComposerPanel::sendAppended, this,
            [this](qint64 inSeq, const QDateTime &sentAt, const QJsonValue &clientData) {
                m_audit->addSend(ClientSend{inSeq, sentAt, clientData});
                m_provenance->addSent(inSeq, clientData);
            });
    m_provenance->setEdgeNamespace(profile.edgeNamespace);
    m_clientData->setEdgeNamespace(profile.edgeNamespace);
    connect(m_composer, &ComposerPanel::problem, this, &SessionView::showProblem);
    connect(m_composer, &ComposerPanel::emptyTurnFlagged, this, [this](const QString &, qint64 seq) {
        Q_EMIT errorOccurred(m_sessionId,
                             tr("turn-complete .out #%1 came with no content: check the clientData against the "
                                "agent's schema").arg(seq));
    });
    connect(m_clientData, &ClientDataPanel::sendRequested, this, &SessionView::sendWithClientData);
    connect(m_clientData, &ClientDataPanel::problem, this, &SessionView::showProblem);
    connect(m_tokens, &TokenManager::tokenChanged, this,
            [this](const JwtClaims &claims, const QString &source) { m_overview->setToken(claims, source); });
    connect(m_tokens, &TokenManager::expiringSoon, this,
            [this](const QDateTime &, qint64 left) { Q_EMIT tokenExpiring(m_sessionId, left); });
    connect(m_tokens, &TokenManager::tokenRejected, this,
            [this](const QString &reason) { showProblem(tr("Refreshed token refused: %1").arg(reason)); });

    if (m_connection->isEmbedded() || profile.kind != BackendKind::Cloud) {
        m_deployments = new DeploymentsClient(profile, this);
        connect(m_clientData, &ClientDataPanel::deployed, this, [this](const DeployedVersion &v) {
            m_header->setToolTip(tr("Deployed %1").arg(v.label));
        });
    }

    QThread *thread = m_connection->networkThread();
    m_out = new StreamConnection(profile, m_sessionId, Channel::Out, thread, m_ingest, this);
    m_in = new StreamConnection(profile, m_sessionId, Channel::In, thread, m_ingest, this);
    connect(m_out, &StreamConnection::recordsReceived, this, &SessionView::onOutRecords);
    for (StreamConnection *c : {m_out, m_in}) {
        connect(c, &StreamConnection::statusChanged, this, [this, c](const StreamStatus &status) {
            m_inspector->setStreamStatus(c->channel(), status);
            if (status.state == SessionOutSubscription::State::Failed)
                Q_EMIT errorOccurred(m_sessionId, status.detail);
        });
        connect(c, &StreamConnection::streamError, this, [this](const Error &error) {
            m_inspector->showError(error.message);
            Q_EMIT errorOccurred(m_sessionId, error.message);
        });
    }
    connect(m_inspector, &StreamInspector::pauseToggled, this, [this](bool paused) {
        for (StreamConnection *c : {m_out, m_in}) {
            if (paused)
                c->stop();
            else
                c->resume();
        }
    });
    m_out->start();
    m_in->start();

    m_runs->load(client, m_sessionId, m_connection->observedHistory());
    useObservedHistory(m_connection->observedHistory());
    connect(m_connection, &BackendConnection::observedHistoryChanged, this, [this](ObservedHistory *history) {
        useObservedHistory(history);
        if (history)
            m_runs->load(m_connection->client(), m_sessionId, history);
    });
    retrieveSession();
    m_refreshTimer.setInterval(5000);
    connect(&m_refreshTimer, &QTimer::timeout, this, &SessionView::retrieveSession);
    m_refreshTimer.start();
}

void SessionView::setInitialToken(const QString &token)
{
    if (m_tokens && !token.isEmpty()) {
        if (auto claims = m_tokens->setToken(token, tr("create")); !claims.ok())
            showProblem(tr("The create call's token does not decode: %1").arg(claims.error().message));
    }
}

void SessionView::retrieveSession()
{
    SessionsClient *client = m_connection ? m_connection->client() : nullptr;
    if (!client)
        return;
    client->retrieveSession(m_sessionId, this, [this](Result<SessionItem> session) {
        if (!session.ok()) {
            showProblem(tr("Cannot load the session: %1").arg(session.error().message));
            return;
        }
        const bool runChanged = m_sessionKnown && session->currentRunId != m_session.currentRunId;
        m_session = *session;
        m_sessionKnown = true;
        m_overview->setSession(m_session);
        m_runs->setCurrentRunId(m_session.currentRunId);
        if (runChanged)
            m_runs->refresh();
        if (!m_seededSend) {
            // The create-time clientData is what the first upgrade is compared with.
            m_seededSend = true;
            const QJsonValue initial = m_session.triggerConfig.value(QStringLiteral("basePayload"))
                                           .toObject()
                                           .value(QStringLiteral("metadata"));
            if (!initial.isUndefined()) {
                m_audit->addSend(ClientSend{-1, m_session.createdAt, initial});
                m_clientData->setLastSent(initial);
                m_clientData->setClientData(initial);
            }
            if (m_deployments)
                m_clientData->setDeployments(m_deployments, m_session.taskIdentifier);
        }
        m_composer->setReadOnly(m_session.isClosed(),
                                m_session.isClosed() ? tr("The session is closed; appends are refused.") : QString());
        const int row = m_runs->rowForRun(m_session.currentRunId);
        if (row >= 0)
            m_overview->setRunVersion(m_session.currentRunId,
                                      m_runs->index(row, 0).data(RunHistoryModel::VersionRole).toString());
        Q_EMIT titleChanged(title());
        m_header->setText(tr("<b>%1</b>%2 · %3 · task %4 · run <span style='font-family:monospace'>%5</span>")
                              .arg(m_session.id.toHtmlEscaped(),
                                   m_session.externalId.isEmpty()
                                       ? QString()
                                       : tr(" (%1)").arg(m_session.externalId.toHtmlEscaped()),
                                   m_session.status(), m_session.taskIdentifier.toHtmlEscaped(),
                                   m_session.currentRunId.toHtmlEscaped()));
    });
}

void SessionView::useObservedHistory(ObservedHistory *history)
{
    if (!history || history == m_history)
        return;
    m_history = history;
    history->attach(m_tokens, m_sessionId);
    const auto refresh = [this](const QString &session) {
        if (m_history && (session == m_sessionId || session == m_session.id || session == m_session.externalId))
            m_audit->setObservedUpgrades(m_history->upgrades(m_sessionId));
    };
    connect(history, &ObservedHistory::historyChanged, this, refresh);
    refresh(m_sessionId);
}

void SessionView::onOutRecords(const QList<StreamRecord> &records)
{
    if (m_history)
        m_history->observeRecords(m_sessionId, records);
    m_composer->observeRecords(records);
    m_tokens->observeRecords(records);
    for (const StreamRecord &r : records) {
        if (r.kind == RecordKind::Control && r.subtype() == controlheader::UpgradeRequired) {
            // The server has swapped the run: show the new one promptly.
            retrieveSession();
            m_runs->refresh();
            Q_EMIT upgraded(m_sessionId, tr("upgrade-required at .out #%1").arg(r.seqNum));
        }
    }
}

void SessionView::onBatch(const RecordBatch &batch)
{
    m_audit->observe(batch, QDateTime::currentMSecsSinceEpoch());
    m_timeline->observe(batch);
}

void SessionView::sendWithClientData()
{
    const QString typed = m_composer->messageEdit()->toPlainText().trimmed();
    m_composer->sendMessage(typed.isEmpty() ? QStringLiteral("ping") : QString());
}

void SessionView::showProblem(const QString &message)
{
    m_banner->setText(message);
    m_banner->parentWidget()->show();
    Q_EMIT errorOccurred(m_sessionId, message);
}

QString SessionView::problemText() const
{
    return m_banner->parentWidget()->isVisible() ? m_banner->text() : QString();
}

QString SessionView::title() const
{
    if (isOffline())
        return tr("%1 (offline)").arg(m_offlineTitle);
    const QString name = m_session.externalId.isEmpty() ? m_sessionId : m_session.externalId;
    return m_session.isClosed() ? tr("%1 (closed)").arg(name) : name;
}

} // namespace sessionscope
