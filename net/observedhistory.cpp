#include "net/observedhistory.h"

#include "net/saturate.h"
#include "net/sessionsclient.h"
#include "net/tokenmanager.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonParseError>

#include <algorithm>

#ifdef Q_OS_UNIX
#include <unistd.h>
#endif

namespace sessionscope {

namespace {

constexpr int JournalVersion = 1;
// The server swaps the run before it appends upgrade-required, so a retrieve
// in between shows the new run first; a run seen this shortly before the
// record is the one it announced.
constexpr qint64 UpgradeLinkWindowMs = 60000;

QDateTime fromMs(const QJsonValue &v)
{
    return QDateTime::fromMSecsSinceEpoch(saturatedInt64(v.toDouble()), Qt::UTC);
}

QString reasonFor(const QString &source, bool first)
{
    if (source == QLatin1String("create"))
        return QStringLiteral("initial");
    return first ? QStringLiteral("observed") : QStringLiteral("continuation");
}

} // namespace

ObservedHistory::ObservedHistory(const QString &journalPath, QObject *parent) : QObject(parent), m_path(journalPath)
{
    m_writer.setMaxThreadCount(1);
}

ObservedHistory::~ObservedHistory()
{
    flush();
}

Result<void> ObservedHistory::open()
{
    flush();
    m_file.close();
    m_sessions.clear();
    m_aliases.clear();
    m_runInfo.clear();
    m_runSession.clear();
    m_skippedLines = 0;

    if (!QDir().mkpath(QFileInfo(m_path).absolutePath()))
        return Error::make(QStringLiteral("Cannot create the folder for %1").arg(m_path));
    QFile in(m_path);
    if (in.exists()) {
        if (!in.open(QIODevice::ReadOnly))
            return Error::make(QStringLiteral("Cannot read %1: %2").arg(m_path, in.errorString()));
        while (!in.atEnd()) {
            const QByteArray line = in.readLine().trimmed();
            if (line.isEmpty())
                continue;
            QJsonParseError err;
            const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
            if (err.error != QJsonParseError::NoError || !doc.isObject() ||
                doc.object().value(QStringLiteral("v")).toInt() != JournalVersion) {
                ++m_skippedLines;
                continue;
            }
            apply(doc.object());
        }
    }
    m_file.setFileName(m_path);
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Append))
        return Error::make(QStringLiteral("Cannot open %1 for appending: %2").arg(m_path, m_file.errorString()));
    // A torn last line (a crash mid-write) must not glue itself to the next fact.
    if (m_file.size() > 0) {
        QFile tail(m_path);
        if (tail.open(QIODevice::ReadOnly) && tail.seek(m_file.size() - 1) && tail.read(1) != "\n")
            m_file.write("\n");
    }
    if (m_skippedLines > 0)
        Q_EMIT journalError(QStringLiteral("%1: skipped %2 unreadable line(s)").arg(m_path).arg(m_skippedLines));
    return {};
}

QString ObservedHistory::canonical(const QString &session) const
{
    return m_aliases.value(session, session);
}

bool ObservedHistory::knowsRun(const QString &session, const QString &runId) const
{
    const auto it = m_sessions.constFind(canonical(session));
    if (it == m_sessions.constEnd())
        return false;
    for (const ObservedRun &r : it->runs) {
        if (r.runId == runId)
            return true;
    }
    return false;
}

void ObservedHistory::record(const QJsonObject &fact)
{
    QJsonObject line = fact;
    line.insert(QStringLiteral("v"), JournalVersion);
    if (!line.contains(QStringLiteral("at")))
        line.insert(QStringLiteral("at"), double(QDateTime::currentMSecsSinceEpoch()));
    apply(line);
    if (!m_file.isOpen())
        return;
    const QByteArray bytes = QJsonDocument(line).toJson(QJsonDocument::Compact) + '\n';
    // Tasks of a one-thread pool run in order, so the journal keeps the order
    // of observation; the destructor waits for them.
    m_writer.start([this, bytes] {
        bool ok = m_file.write(bytes) == bytes.size() && m_file.flush();
#ifdef Q_OS_UNIX
        ok = ok && ::fsync(m_file.handle()) == 0;
#endif
        if (!ok) {
            const QString message = QStringLiteral("Cannot append to %1: %2").arg(m_path, m_file.errorString());
            QMetaObject::invokeMethod(this, [this, message] { Q_EMIT journalError(message); }, Qt::QueuedConnection);
        }
    });
}

void ObservedHistory::flush()
{
    m_writer.waitForDone();
}

void ObservedHistory::apply(const QJsonObject &fact)
{
    const QString type = fact.value(QStringLiteral("t")).toString();
    const QDateTime at = fromMs(fact.value(QStringLiteral("at")));
    if (type == QLatin1String("alias")) {
        const QString id = fact.value(QStringLiteral("s")).toString();
        const QString ext = fact.value(QStringLiteral("ext")).toString();
        if (id.isEmpty() || ext.isEmpty() || m_aliases.value(ext) == id)
            return;
        m_aliases.insert(ext, id);
        // Facts recorded under the external id before it was known belong to
        // the friendly id.
        if (m_sessions.contains(ext)) {
            const SessionState moved = m_sessions.take(ext);
            SessionState &target = m_sessions[id];
            for (const ObservedRun &r : moved.runs) {
                if (!knowsRun(id, r.runId)) {
                    ObservedRun copy = r;
                    copy.sessionId = id;
                    target.runs.append(copy);
                    m_runSession.insert(r.runId, id);
                }
            }
            for (const ObservedUpgrade &u : moved.upgrades) {
                if (!target.upgradeSeqs.contains(u.seq)) {
                    ObservedUpgrade copy = u;
                    copy.sessionId = id;
                    target.upgrades.append(copy);
                    target.upgradeSeqs.insert(u.seq);
                }
            }
            std::sort(target.runs.begin(), target.runs.end(),
                      [](const ObservedRun &a, const ObservedRun &b) { return a.firstSeenAt < b.firstSeenAt; });
        }
        Q_EMIT historyChanged(id);
    } else if (type == QLatin1String("run")) {
        applyRun(fact.value(QStringLiteral("s")).toString(), fact.value(QStringLiteral("run")).toString(),
                 fact.value(QStringLiteral("src")).toString(), fact.value(QStringLiteral("reason")).toString(), at);
    } else if (type == QLatin1String("upgrade")) {
        applyUpgrade(fact.value(QStringLiteral("s")).toString(), saturatedInt64(fact.value(QStringLiteral("seq")).toDouble()),
                     at);
    } else if (type == QLatin1String("details")) {
        const QString run = fact.value(QStringLiteral("run")).toString();
        if (run.isEmpty())
            return;
        m_runInfo.insert(run, {fact.value(QStringLiteral("version")).toString(),
                               fact.value(QStringLiteral("status")).toString()});
        if (m_runSession.contains(run))
            Q_EMIT historyChanged(m_runSession.value(run));
    } else {
        ++m_skippedLines;
    }
}

void ObservedHistory::applyRun(const QString &sessionKey, const QString &runId, const QString &source,
                               const QString &reason, const QDateTime &at)
{
    if (sessionKey.isEmpty() || runId.isEmpty() || knowsRun(sessionKey, runId))
        return;
    const QString session = canonical(sessionKey);
    SessionState &state = m_sessions[session];
    ObservedRun run;
    run.sessionId = session;
    run.runId = runId;
    run.source = source;
    run.firstSeenAt = at;
    run.reason = reason.isEmpty() ? reasonFor(source, state.runs.isEmpty()) : reason;
    // A pending upgrade record announced this run.
    if (!state.upgrades.isEmpty() && state.upgrades.last().toRunId.isEmpty() && !state.runs.isEmpty() &&
        (reason.isEmpty() || reason == QLatin1String("upgrade"))) {
        state.upgrades.last().toRunId = runId;
        run.reason = QStringLiteral("upgrade");
    }
    state.runs.append(run);
    m_runSession.insert(runId, session);
    Q_EMIT historyChanged(session);
}

void ObservedHistory::applyUpgrade(const QString &sessionKey, qint64 seq, const QDateTime &at)
{
    const QString session = canonical(sessionKey);
    SessionState &state = m_sessions[session];
    if (seq < 0 || state.upgradeSeqs.contains(seq))
        return;
    state.upgradeSeqs.insert(seq);
    ObservedUpgrade upgrade;
    upgrade.sessionId = session;
    upgrade.seq = seq;
    upgrade.observedAt = at;
    const qsizetype n = state.runs.size();
    if (n >= 2) {
        ObservedRun &last = state.runs[n - 1];
        const bool linked = std::any_of(state.upgrades.cbegin(), state.upgrades.cend(),
                                        [&last](const ObservedUpgrade &u) { return u.toRunId == last.runId; });
        if (!linked && last.reason == QLatin1String("continuation") &&
            last.firstSeenAt.msecsTo(at) <= UpgradeLinkWindowMs) {
            last.reason = QStringLiteral("upgrade");
            upgrade.fromRunId = state.runs[n - 2].runId;
            upgrade.toRunId = last.runId;
        }
    }
    if (upgrade.toRunId.isEmpty() && n >= 1)
        upgrade.fromRunId = state.runs.last().runId;
    state.upgrades.append(upgrade);
    Q_EMIT historyChanged(session);
}

void ObservedHistory::fillVersions(ObservedUpgrade &upgrade) const
{
    upgrade.fromVersion = m_runInfo.value(upgrade.fromRunId).version;
    upgrade.toVersion = m_runInfo.value(upgrade.toRunId).version;
}

QList<ObservedRun> ObservedHistory::runs(const QString &session) const
{
    QList<ObservedRun> out = m_sessions.value(canonical(session)).runs;
    for (ObservedRun &r : out) {
        const RunInfo info = m_runInfo.value(r.runId);
        r.version = info.version;
        r.status = info.status;
    }
    return out;
}

QList<ObservedUpgrade> ObservedHistory::upgrades(const QString &session) const
{
    QList<ObservedUpgrade> out = m_sessions.value(canonical(session)).upgrades;
    for (ObservedUpgrade &u : out)
        fillVersions(u);
    return out;
}

QStringList ObservedHistory::sessions() const
{
    return m_sessions.keys();
}

void ObservedHistory::attach(SessionsClient *client)
{
    m_client = client;
    connect(client, &SessionsClient::sessionSeen, this,
            [this](const SessionItem &s) { observeSession(s, QStringLiteral("retrieve")); });
    connect(client, &SessionsClient::sessionCreated, this, &ObservedHistory::observeCreated);
    connect(client, &SessionsClient::runSeen, this, &ObservedHistory::observeRun);
    connect(client, &SessionsClient::runTakenOver, this, &ObservedHistory::observeTakeover);
}

void ObservedHistory::attach(TokenManager *tokens, const QString &session)
{
    connect(tokens, &TokenManager::tokenChanged, this,
            [this, session](const JwtClaims &claims) { observeToken(session, claims); });
    if (tokens->hasToken())
        observeToken(session, tokens->claims());
}

void ObservedHistory::observeSession(const SessionItem &session, const QString &source)
{
    if (!session.externalId.isEmpty() && m_aliases.value(session.externalId) != session.id)
        record({{QStringLiteral("t"), QStringLiteral("alias")},
                {QStringLiteral("s"), session.id},
                {QStringLiteral("ext"), session.externalId}});
    if (!session.currentRunId.isEmpty() && !knowsRun(session.id, session.currentRunId))
        record({{QStringLiteral("t"), QStringLiteral("run")},
                {QStringLiteral("s"), session.id},
                {QStringLiteral("run"), session.currentRunId},
                {QStringLiteral("src"), source}});
}

void ObservedHistory::observeCreated(const CreatedSession &created)
{
    SessionItem s = created.session;
    if (!created.runId.isEmpty())
        s.currentRunId = created.runId;
    observeSession(s, created.isCached ? QStringLiteral("retrieve") : QStringLiteral("create"));
}

void ObservedHistory::observeTakeover(const QString &session, const QString &runId, const QString &reason)
{
    if (knowsRun(session, runId))
        return;
    record({{QStringLiteral("t"), QStringLiteral("run")},
            {QStringLiteral("s"), session},
            {QStringLiteral("run"), runId},
            {QStringLiteral("src"), QStringLiteral("end-and-continue")},
            {QStringLiteral("reason"), reason}});
}

void ObservedHistory::observeToken(const QString &session, const JwtClaims &claims)
{
    for (const QString &runId : claims.runIds()) {
        if (!knowsRun(session, runId))
            record({{QStringLiteral("t"), QStringLiteral("run")},
                    {QStringLiteral("s"), session},
                    {QStringLiteral("run"), runId},
                    {QStringLiteral("src"), QStringLiteral("token")}});
    }
}

void ObservedHistory::observeRun(const RunDetails &run)
{
    const RunInfo known = m_runInfo.value(run.id);
    if (m_runInfo.contains(run.id) && known.version == run.version && known.status == run.status)
        return;
    record({{QStringLiteral("t"), QStringLiteral("details")},
            {QStringLiteral("run"), run.id},
            {QStringLiteral("version"), run.version},
            {QStringLiteral("status"), run.status}});
}

void ObservedHistory::observeRecords(const QString &session, const QList<StreamRecord> &records)
{
    for (const StreamRecord &r : records) {
        if (r.kind != RecordKind::Control || r.subtype() != "upgrade-required")
            continue;
        if (m_sessions.value(canonical(session)).upgradeSeqs.contains(r.seqNum))
            continue;
        record({{QStringLiteral("t"), QStringLiteral("upgrade")},
                {QStringLiteral("s"), session},
                {QStringLiteral("seq"), double(r.seqNum)}});
        // The swap has happened: ask for the session to see the new run.
        if (m_client)
            m_client->retrieveSession(session, this, [](const Result<SessionItem> &) {});
    }
}

} // namespace sessionscope
