#include "awaitresult.h"
#include "testserverprocess.h"
#include "testsessions.h"

#include "net/backoff.h"
#include "net/inappender.h"
#include "net/resttransport.h"
#include "net/sessionoutsubscription.h"
#include "net/sessionsclient.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QWaitCondition>

#include <atomic>
#include <memory>
#include <vector>

using namespace sessionscope;
using namespace std::chrono_literals;

// Issue #8: the server under `kill -9` every few seconds during a five-minute
// soak with two clients, and nothing acknowledged is ever lost. Client 1
// appends to `.in` through InAppender and creates sessions; client 2 appends
// `.out` records with the secret key, as the agent does, and follows `.out`
// live with SessionOutSubscription. Neither is ever restarted: they ride the
// outages on their own retry logic. After every restart, and at the end, each
// stream is read back and held against what was acknowledged.

namespace {

// One append at a time per stream and client, one tick per append at most:
// about a hundred appends per second per client, enough to always have a
// request in flight when the server dies, without eating the CI box.
constexpr auto Tick = 10ms;
constexpr int InitialSessions = 3;
constexpr int MaxProblemsKept = 40;
// Client 2 (the test's stand-in for an agent) gives up like InAppender does.
constexpr qint64 OutGiveUpMs = 120'000;

int soakSeconds()
{
    bool ok = false;
    const int seconds = qEnvironmentVariableIntValue("SESSIONSCOPE_SOAK_SECONDS", &ok);
    return ok && seconds > 0 ? seconds : 300;
}

quint32 soakSeed()
{
    bool ok = false;
    const uint seed = qEnvironmentVariable("SESSIONSCOPE_SOAK_SEED").toUInt(&ok);
    return ok ? quint32(seed) : QRandomGenerator::system()->generate();
}

// A data record as read back: the text the writer appended (the `data`
// string of {"data": ..., "id": partId}) and its part id.
struct ReadRecord
{
    qint64 seq = -1;
    QString partId;
    QByteArray data;
};

QByteArray dataText(const QJsonValue &data)
{
    if (data.isString())
        return data.toString().toUtf8();
    if (data.isObject())
        return QJsonDocument(data.toObject()).toJson(QJsonDocument::Compact);
    return {};
}

std::optional<ReadRecord> fromStreamRecord(const StreamRecord &record)
{
    const QJsonDocument doc = QJsonDocument::fromJson(record.body);
    if (!doc.isObject())
        return std::nullopt;
    const QJsonObject o = doc.object();
    return ReadRecord{record.seqNum, o.value(QStringLiteral("id")).toString(), dataText(o.value(QStringLiteral("data")))};
}

// GET .../records: {records:[{data, id, seqNum, headers}]}.
Result<QList<ReadRecord>> fromRecordsAnswer(const HttpResponse &answer)
{
    const auto object = answer.jsonObject();
    if (!object)
        return object.error();
    QList<ReadRecord> out;
    for (const QJsonValue &v : object->value(QStringLiteral("records")).toArray()) {
        const QJsonObject r = v.toObject();
        out.append({qint64(r.value(QStringLiteral("seqNum")).toDouble(-1)), r.value(QStringLiteral("id")).toString(),
                    dataText(r.value(QStringLiteral("data")))});
    }
    return out;
}

bool retryable(const Error &e)
{
    return e.httpStatus == 0 ? e.retrySafe : e.httpStatus >= 500 || e.httpStatus == 429 || e.httpStatus == 408;
}

// Runs the event loop for `duration` or until `stop()` holds, checking ten
// times a second: the soak must not spin.
void runFor(std::chrono::milliseconds duration, const std::function<bool()> &stop)
{
    QEventLoop loop;
    QTimer check;
    QObject::connect(&check, &QTimer::timeout, &loop, [&] {
        if (stop())
            loop.quit();
    });
    check.start(100);
    QTimer::singleShot(duration, &loop, &QEventLoop::quit);
    loop.exec();
}

bool settleWithin(std::chrono::milliseconds timeout, const std::function<bool()> &done)
{
    runFor(timeout, done);
    return done();
}

} // namespace

// The server child lives in a thread of its own: a restart blocks until the
// new process prints "listening on", and the clients' event loop must keep
// running through it (they are never paused, only refused).
class ServerKiller : public QObject
{
    Q_OBJECT

public:
    ServerKiller(quint32 seed, const QElapsedTimer &clock) : m_seed(seed), m_clock(clock)
    {
        m_thread.reset(QThread::create([this] { run(); }));
        m_thread->start();
    }

    ~ServerKiller() override
    {
        {
            QMutexLocker lock(&m_mutex);
            m_phase = Phase::Exit;
            m_wake.wakeAll();
        }
        m_thread->wait();
    }

    // Waits for the first start.
    Result<ConnectionProfile> started()
    {
        QMutexLocker lock(&m_mutex);
        while (!m_startAnswered)
            m_wake.wait(&m_mutex);
        if (!m_startError.isEmpty())
            return Error::make(m_startError);
        return m_profile;
    }

    void startKilling() { setPhase(Phase::Killing); }
    // Stops killing; isCalm() once the server is up for good.
    void requestCalm() { setPhase(Phase::Calm); }
    bool isCalm() const { return m_calm.load(); }

Q_SIGNALS:
    void killed(qint64 atMs);
    void restarted(qint64 atMs, qint64 downMs);
    void restartFailed(const QString &error);

private:
    enum class Phase { Waiting, Killing, Calm, Exit };

    void setPhase(Phase phase)
    {
        QMutexLocker lock(&m_mutex);
        if (m_phase != Phase::Exit)
            m_phase = phase;
        m_wake.wakeAll();
    }

    void run()
    {
        QRandomGenerator rng(m_seed);
        TestServerProcess server;
        // No agent: `.out` then holds only what client 2 writes.
        const bool up = server.start({QStringLiteral("--no-agent")});
        QMutexLocker lock(&m_mutex);
        m_startError = up ? QString() : server.errorString();
        m_profile = server.profile();
        m_startAnswered = true;
        m_wake.wakeAll();
        while (up && m_phase == Phase::Waiting)
            m_wake.wait(&m_mutex);
        while (up && m_phase == Phase::Killing) {
            const QDeadlineTimer until(2000 + int(rng.bounded(3001)));
            while (m_phase == Phase::Killing && !until.hasExpired())
                m_wake.wait(&m_mutex, until);
            if (m_phase != Phase::Killing)
                break;
            // Down for a moment, so clients also meet refused connections,
            // not only connections cut mid-request.
            const int downMs = int(rng.bounded(500));
            lock.unlock();
            const qint64 killedAt = m_clock.elapsed();
            server.kill();
            Q_EMIT killed(killedAt);
            QThread::msleep(downMs);
            bool back = false;
            for (int attempt = 0; attempt < 5 && !back; ++attempt) {
                back = server.restart();
                if (!back)
                    QThread::msleep(200);
            }
            if (!back) {
                Q_EMIT restartFailed(server.errorString());
                lock.relock();
                break;
            }
            Q_EMIT restarted(m_clock.elapsed(), m_clock.elapsed() - killedAt);
            lock.relock();
        }
        m_calm.store(true);
        while (m_phase != Phase::Exit)
            m_wake.wait(&m_mutex);
    }

    const quint32 m_seed;
    const QElapsedTimer &m_clock;
    std::unique_ptr<QThread> m_thread;
    QMutex m_mutex;
    QWaitCondition m_wake;
    Phase m_phase = Phase::Waiting;
    bool m_startAnswered = false;
    QString m_startError;
    ConnectionProfile m_profile;
    std::atomic<bool> m_calm{false};
};

// What one client wrote to one stream and what the read-backs found there.
struct StreamLedger
{
    QString label;
    QHash<QString, QByteArray> sent;      // part id -> text as appended
    QList<QPair<QString, qint64>> acked;  // (part id, seq) in the order acknowledged
    qsizetype ackedChecked = 0;           // acked[0, ackedChecked) were found
    QStringList partAtSeq;                // read back so far: seq i holds partAtSeq[i]
    QHash<QString, qint64> seqOfPart;
    qint64 lastAckedSeq = -1;
    bool inFlight = false;
    int written = 0;
};

// One session as both clients use it.
struct Lane
{
    int index = 0;
    QString externalId;
    QString id;
    StreamLedger in;
    StreamLedger out;
    std::unique_ptr<InAppender> appender;
    std::unique_ptr<SessionOutSubscription> subscription;
    QList<ReadRecord> live; // what the subscription delivered, by seq
    qint64 downSince = -1;  // when the subscription last lost its stream
};

class KillSoak : public QObject
{
public:
    KillSoak(const ConnectionProfile &profile, quint32 seed, const QElapsedTimer &clock)
        : m_profile(profile), m_rng(seed ^ 0x5eed5eedU), m_clock(clock), m_sessions(profile), m_verifier(profile)
    {
        m_sessions.transport()->setNetworkAccessManager(&m_inNetwork);
        m_outTransport.setBearer(profile.secretKey);
        m_reader.setBearer(profile.secretKey);
        m_reader.setTimeout(20s);
        m_verifier.transport()->setTimeout(20s);
        m_inTicker.setInterval(Tick);
        m_outTicker.setInterval(Tick);
        connect(&m_inTicker, &QTimer::timeout, this, [this] { tick(Channel::In); });
        connect(&m_outTicker, &QTimer::timeout, this, [this] { tick(Channel::Out); });
        m_createTimer.setSingleShot(true);
        connect(&m_createTimer, &QTimer::timeout, this, &KillSoak::createSession);
    }

    ~KillSoak() override
    {
        // The clients go first: their callbacks point into the lanes.
        m_lanes.clear();
    }

    void createSession()
    {
        auto backoff = std::make_shared<Backoff>();
        const QString externalId = QStringLiteral("soak-%1").arg(m_created + m_creating + 1);
        ++m_creating;
        attemptCreate(externalId, backoff, m_clock.elapsed());
    }

    void startClients()
    {
        m_inTicker.start();
        m_outTicker.start();
        scheduleCreate();
    }

    void stopWriting()
    {
        m_writing = false;
        m_inTicker.stop();
        m_outTicker.stop();
        m_createTimer.stop();
    }

    bool idle() const
    {
        if (m_creating > 0 || m_roundActive)
            return false;
        for (const auto &lane : m_lanes) {
            if (lane->in.inFlight || lane->out.inFlight)
                return false;
        }
        return true;
    }

    // Everything acknowledged so far must be on the server now: whatever
    // incarnation acknowledged it, it has been committed.
    void startRound()
    {
        if (m_roundActive) {
            ++m_roundsSkipped;
            return;
        }
        m_roundActive = true;
        m_roundFailed = false;
        m_roundPending = 0;
        for (const auto &lane : m_lanes) {
            readBack(*lane, lane->in, Channel::In);
            readBack(*lane, lane->out, Channel::Out);
            checkSessionExists(*lane);
        }
        if (m_roundPending == 0)
            m_roundActive = false;
    }

    bool roundActive() const { return m_roundActive; }
    bool lastRoundComplete() const { return !m_roundFailed; }

    // The whole of every stream, read again from seq 0: what the incremental
    // rounds found must still be there, unchanged, and nothing else.
    void finalCheck()
    {
        for (const auto &lane : m_lanes) {
            for (Channel channel : {Channel::In, Channel::Out}) {
                StreamLedger &ledger = channel == Channel::In ? lane->in : lane->out;
                auto answer = awaitResult<HttpResponse>(
                    [&](auto done) { m_reader.send(recordsRequest(*lane, channel, -1), nullptr, done); }, 30s);
                auto records = answer ? fromRecordsAnswer(*answer) : Result<QList<ReadRecord>>(answer.error());
                if (!records) {
                    problem(QStringLiteral("%1: final read failed: %2").arg(ledger.label, records.error().message));
                    continue;
                }
                if (records->size() != ledger.partAtSeq.size())
                    problem(QStringLiteral("%1: %2 records at the end, %3 read before")
                                .arg(ledger.label)
                                .arg(records->size())
                                .arg(ledger.partAtSeq.size()));
                for (const ReadRecord &r : std::as_const(*records)) {
                    if (r.seq < 0 || r.seq >= ledger.partAtSeq.size() || ledger.partAtSeq.at(r.seq) != r.partId) {
                        problem(QStringLiteral("%1: seq %2 now holds %3").arg(ledger.label).arg(r.seq).arg(r.partId));
                        break;
                    }
                    if (ledger.sent.value(r.partId) != r.data)
                        problem(QStringLiteral("%1: seq %2 changed its body").arg(ledger.label).arg(r.seq));
                }
                m_recordsVerified += records->size();
                if (ledger.ackedChecked != ledger.acked.size())
                    problem(QStringLiteral("%1: %2 of %3 acknowledged records were never read back")
                                .arg(ledger.label)
                                .arg(ledger.acked.size() - ledger.ackedChecked)
                                .arg(ledger.acked.size()));
            }
        }
    }

    bool subscriptionsCaughtUp() const
    {
        for (const auto &lane : m_lanes) {
            if (lane->live.size() < lane->out.partAtSeq.size())
                return false;
        }
        return true;
    }

    // What each live subscription saw, seq by seq, against the stream.
    void checkSubscriptions()
    {
        for (const auto &lane : m_lanes) {
            const StreamLedger &out = lane->out;
            if (lane->live.size() != out.partAtSeq.size())
                problem(QStringLiteral("%1: the subscription saw %2 records, the stream holds %3")
                            .arg(out.label)
                            .arg(lane->live.size())
                            .arg(out.partAtSeq.size()));
            const qsizetype n = qMin(lane->live.size(), out.partAtSeq.size());
            for (qsizetype seq = 0; seq < n; ++seq) {
                const ReadRecord &r = lane->live.at(seq);
                if (r.partId != out.partAtSeq.at(seq) || r.data != out.sent.value(r.partId)) {
                    problem(QStringLiteral("%1: the subscription saw %2 at seq %3, the stream holds %4")
                                .arg(out.label, r.partId)
                                .arg(seq)
                                .arg(out.partAtSeq.at(seq)));
                    break;
                }
            }
            m_liveVerified += n;
            if (lane->subscription->state() == SessionOutSubscription::State::Failed)
                problem(QStringLiteral("%1: the subscription gave up: %2")
                            .arg(out.label, lane->subscription->failure().message));
        }
    }

    void onKilled() { ++m_kills; }

    void onRestarted(qint64, qint64 downMs)
    {
        m_longestDown = qMax(m_longestDown, downMs);
        startRound();
    }

    void problem(const QString &what)
    {
        if (m_problems.size() < MaxProblemsKept) {
            m_problems.append(what);
            qWarning().noquote() << "soak problem:" << what;
        }
        ++m_problemCount;
    }

    int laneCount() const { return int(m_lanes.size()); }
    int problemCount() const { return m_problemCount; }
    QStringList problems() const { return m_problems; }

    void report(qint64 elapsedMs) const
    {
        qint64 inAcked = 0, outAcked = 0;
        for (const auto &lane : m_lanes) {
            inAcked += lane->in.acked.size();
            outAcked += lane->out.acked.size();
        }
        qInfo("soak: %.0f s, %d kills, longest time down (kill to listening) %lld ms", double(elapsedMs) / 1000,
              m_kills, m_longestDown);
        qInfo("client 1 (.in via InAppender): %lld appends acknowledged, %d retries, longest wait between acks "
              "%lld ms",
              inAcked, m_inRetries, m_longestInGap);
        qInfo("client 2 (.out writer): %lld appends acknowledged, %d retries, longest wait between acks %lld ms",
              outAcked, m_outRetries, m_longestOutGap);
        qInfo("client 2 (.out subscriptions): %lld records live, %d reconnect backoffs, %lld duplicates dropped on "
              "resume, longest gap without a stream %lld ms",
              m_liveVerified, m_subBackoffs, duplicatesDropped(), m_longestSubGap);
        qInfo("sessions: %d created (%d initial), %d create retries, %d answered from a lost earlier attempt",
              m_created, InitialSessions, m_createRetries, m_createCached);
        qInfo("verification: %d rounds after restarts (%d incomplete as a kill cut a read short, %d skipped while one ran), %lld "
              "records and %lld session lookups checked in rounds, %lld records in the final read",
              m_rounds, m_roundsCut, m_roundsSkipped, m_roundRecords, m_sessionLookups, m_recordsVerified);
    }

private:
    qint64 duplicatesDropped() const
    {
        qint64 n = 0;
        for (const auto &lane : m_lanes)
            n += lane->subscription->duplicatesDropped();
        return n;
    }

    void scheduleCreate()
    {
        if (m_writing)
            m_createTimer.start(int(8000 + m_rng.bounded(8001)));
    }

    // Creating with an externalId is idempotent (a repeat answers 200 with
    // isCached), so a create whose answer was lost is simply sent again.
    void attemptCreate(const QString &externalId, const std::shared_ptr<Backoff> &backoff, qint64 since)
    {
        m_sessions.createSession(
            chatSessionRequest(externalId), this, [=, this](Result<CreatedSession> created) {
                if (!created) {
                    if (retryable(created.error()) && m_clock.elapsed() - since < OutGiveUpMs) {
                        ++m_createRetries;
                        QTimer::singleShot(backoff->next(), this,
                                           [=, this] { attemptCreate(externalId, backoff, since); });
                        return;
                    }
                    --m_creating;
                    problem(QStringLiteral("creating %1 failed: %2").arg(externalId, created.error().message));
                    scheduleCreate();
                    return;
                }
                --m_creating;
                ++m_created;
                if (created->isCached)
                    ++m_createCached;
                addLane(externalId, created->session.id);
                scheduleCreate();
            });
    }

    void addLane(const QString &externalId, const QString &id)
    {
        auto lane = std::make_unique<Lane>();
        Lane *l = lane.get();
        l->index = int(m_lanes.size());
        l->externalId = externalId;
        l->id = id;
        l->in.label = QStringLiteral("%1 .in").arg(externalId);
        l->out.label = QStringLiteral("%1 .out").arg(externalId);
        l->appender = std::make_unique<InAppender>(m_profile, id);
        l->appender->transport()->setNetworkAccessManager(&m_inNetwork);
        connect(l->appender.get(), &InAppender::retrying, this, [this] { ++m_inRetries; });
        l->subscription = std::make_unique<SessionOutSubscription>(m_profile, id);
        SessionOutSubscription *sub = l->subscription.get();
        connect(sub, &SessionOutSubscription::recordsReceived, this,
                [this, l](const QList<StreamRecord> &records) { onLive(*l, records); });
        connect(sub, &SessionOutSubscription::backingOff, this, [this] { ++m_subBackoffs; });
        connect(sub, &SessionOutSubscription::failed, this, [this, l](const Error &e) {
            problem(QStringLiteral("%1: the subscription gave up: %2").arg(l->out.label, e.message));
        });
        connect(sub, &SessionOutSubscription::stateChanged, this, [this, l](SessionOutSubscription::State s) {
            using State = SessionOutSubscription::State;
            const bool streaming = s == State::Live || s == State::CaughtUp;
            if (streaming && l->downSince >= 0) {
                m_longestSubGap = qMax(m_longestSubGap, m_clock.elapsed() - l->downSince);
                l->downSince = -1;
            } else if (!streaming && l->downSince < 0) {
                l->downSince = m_clock.elapsed();
            }
        });
        m_lanes.push_back(std::move(lane));
        sub->start();
    }

    void onLive(Lane &lane, const QList<StreamRecord> &records)
    {
        for (const StreamRecord &r : records) {
            // Exactly once and in order: the next record is always the next seq.
            if (r.seqNum != lane.live.size()) {
                problem(QStringLiteral("%1: the subscription delivered seq %2 after %3")
                            .arg(lane.out.label)
                            .arg(r.seqNum)
                            .arg(lane.live.size() - 1));
                return;
            }
            const auto read = fromStreamRecord(r);
            if (!read) {
                problem(QStringLiteral("%1: seq %2 is not a data record").arg(lane.out.label).arg(r.seqNum));
                return;
            }
            lane.live.append(*read);
        }
    }

    void tick(Channel channel)
    {
        const int n = int(m_lanes.size());
        int &cursor = channel == Channel::In ? m_inCursor : m_outCursor;
        for (int k = 0; k < n; ++k) {
            Lane &lane = *m_lanes[size_t((cursor + k) % n)];
            StreamLedger &ledger = channel == Channel::In ? lane.in : lane.out;
            if (ledger.inFlight)
                continue;
            cursor = (cursor + k + 1) % n;
            if (channel == Channel::In)
                sendIn(lane);
            else
                sendOut(lane);
            return;
        }
    }

    void acknowledge(StreamLedger &ledger, const QString &partId, qint64 seq, qint64 &lastAck, qint64 &longestGap)
    {
        ledger.inFlight = false;
        // One append in flight per stream and client: acks come in seq order.
        if (seq <= ledger.lastAckedSeq)
            problem(QStringLiteral("%1: %2 acknowledged at seq %3 after seq %4")
                        .arg(ledger.label, partId)
                        .arg(seq)
                        .arg(ledger.lastAckedSeq));
        ledger.lastAckedSeq = seq;
        ledger.acked.append({partId, seq});
        const qint64 now = m_clock.elapsed();
        if (lastAck >= 0)
            longestGap = qMax(longestGap, now - lastAck);
        lastAck = now;
    }

    void sendIn(Lane &lane)
    {
        StreamLedger &ledger = lane.in;
        const QString partId = QStringLiteral("c1-%1-%2").arg(lane.index).arg(ledger.written++);
        // Quotes, a backslash and non-ASCII text must come back unchanged.
        const QJsonObject chunk = lane.appender->messageChunk(
            QStringLiteral("soak \"%1\" \\ #%2 \u00e9\u6f22").arg(lane.externalId).arg(ledger.written),
            QJsonValue::Undefined);
        ledger.sent.insert(partId, QJsonDocument(chunk).toJson(QJsonDocument::Compact));
        ledger.inFlight = true;
        Lane *l = &lane;
        lane.appender->sendChunk(
            chunk, this,
            [this, l, partId](Result<InAppendResult> r) {
                if (!r) {
                    l->in.inFlight = false;
                    problem(QStringLiteral("client 1 gave up on %1 (%2): %3")
                                .arg(partId, l->in.label, r.error().message));
                    return;
                }
                if (r->partId != partId)
                    problem(QStringLiteral("%1: sent %2, acknowledged %3").arg(l->in.label, partId, r->partId));
                acknowledge(l->in, partId, r->seq, m_lastInAck, m_longestInGap);
            },
            partId);
    }

    HttpRequest appendRequest(const Lane &lane, const QString &partId, const QByteArray &body) const
    {
        HttpRequest r;
        r.verb = "POST";
        r.url = m_profile.url(EndpointFamily::Out, {QStringLiteral("realtime"), QStringLiteral("v1"),
                                                    QStringLiteral("sessions"), lane.id, QStringLiteral("out"),
                                                    QStringLiteral("append")});
        r.body = body;
        r.headers.append({"X-Part-Id", partId.toLatin1()});
        r.idempotent = true; // X-Part-Id: a repeat appends nothing
        return r;
    }

    void sendOut(Lane &lane)
    {
        StreamLedger &ledger = lane.out;
        const QString partId = QStringLiteral("c2-%1-%2").arg(lane.index).arg(ledger.written++);
        const QByteArray body =
            QJsonDocument(QJsonObject{{QStringLiteral("type"), QStringLiteral("text-delta")},
                                      {QStringLiteral("id"), QStringLiteral("t%1").arg(lane.index)},
                                      {QStringLiteral("delta"),
                                       QStringLiteral("\"%1\" \\ \u00fc").arg(ledger.written)}})
                .toJson(QJsonDocument::Compact);
        ledger.sent.insert(partId, body);
        ledger.inFlight = true;
        attemptOut(&lane, partId, body, std::make_shared<Backoff>(), m_clock.elapsed());
    }

    // The agent's side: the same X-Part-Id on every retry of one record.
    void attemptOut(Lane *lane, const QString &partId, const QByteArray &body, const std::shared_ptr<Backoff> &backoff,
                    qint64 since)
    {
        m_outTransport.send(appendRequest(*lane, partId, body), this, [=, this](Result<HttpResponse> answer) {
            if (!answer) {
                if (retryable(answer.error()) && m_clock.elapsed() - since < OutGiveUpMs) {
                    ++m_outRetries;
                    QTimer::singleShot(backoff->next(), this,
                                       [=, this] { attemptOut(lane, partId, body, backoff, since); });
                    return;
                }
                lane->out.inFlight = false;
                problem(QStringLiteral("client 2 gave up on %1 (%2): %3")
                            .arg(partId, lane->out.label, answer.error().message));
                return;
            }
            const auto object = answer->jsonObject();
            const QJsonValue seq = object ? object->value(QStringLiteral("seq")) : QJsonValue();
            if (!seq.isDouble()) {
                lane->out.inFlight = false;
                problem(QStringLiteral("%1: 200 without a seq for %2").arg(lane->out.label, partId));
                return;
            }
            acknowledge(lane->out, partId, qint64(seq.toDouble()), m_lastOutAck, m_longestOutGap);
        });
    }

    HttpRequest recordsRequest(const Lane &lane, Channel channel, qint64 afterSeq) const
    {
        const bool out = channel == Channel::Out;
        QueryItems query;
        if (afterSeq >= 0)
            query.append({QStringLiteral("afterEventId"), QString::number(afterSeq)});
        HttpRequest r;
        r.url = m_profile.url(out ? EndpointFamily::Out : EndpointFamily::In,
                              {QStringLiteral("realtime"), QStringLiteral("v1"), QStringLiteral("sessions"), lane.id,
                               out ? QStringLiteral("out") : QStringLiteral("in"), QStringLiteral("records")},
                              query);
        return r;
    }

    void roundStep(bool failed)
    {
        m_roundFailed = m_roundFailed || failed;
        if (--m_roundPending > 0)
            return;
        m_roundActive = false;
        ++m_rounds;
        if (m_roundFailed)
            ++m_roundsCut;
    }

    void readBack(Lane &lane, StreamLedger &ledger, Channel channel)
    {
        ++m_roundPending;
        const qsizetype ackedNow = ledger.acked.size();
        StreamLedger *l = &ledger;
        m_reader.send(recordsRequest(lane, channel, ledger.partAtSeq.size() - 1), this,
                      [this, l, ackedNow](Result<HttpResponse> answer) {
                          auto records = answer ? fromRecordsAnswer(*answer) : Result<QList<ReadRecord>>(answer.error());
                          if (records)
                              absorb(*l, *records, ackedNow);
                          // A kill in the middle of the read: the next round
                          // reads again. An answer that refuses is a finding.
                          else if (records.error().httpStatus != 0)
                              problem(QStringLiteral("%1: reading back failed: %2")
                                          .arg(l->label, records.error().message));
                          roundStep(!records);
                      });
    }

    void absorb(StreamLedger &ledger, const QList<ReadRecord> &records, qsizetype ackedNow)
    {
        for (const ReadRecord &r : records) {
            if (r.seq < ledger.partAtSeq.size())
                continue; // a round that started earlier read it already
            if (r.seq != ledger.partAtSeq.size()) {
                problem(QStringLiteral("%1: seq %2 follows seq %3").arg(ledger.label).arg(r.seq).arg(ledger.partAtSeq.size() - 1));
                return;
            }
            const auto sent = ledger.sent.constFind(r.partId);
            if (sent == ledger.sent.constEnd())
                problem(QStringLiteral("%1: seq %2 holds part %3, which nobody sent").arg(ledger.label).arg(r.seq).arg(r.partId));
            else if (*sent != r.data)
                problem(QStringLiteral("%1: seq %2 (%3) differs from what was sent").arg(ledger.label).arg(r.seq).arg(r.partId));
            if (const auto twice = ledger.seqOfPart.constFind(r.partId); twice != ledger.seqOfPart.constEnd())
                problem(QStringLiteral("%1: part %2 is stored twice, at seq %3 and %4")
                            .arg(ledger.label, r.partId)
                            .arg(*twice)
                            .arg(r.seq));
            ledger.seqOfPart.insert(r.partId, r.seq);
            ledger.partAtSeq.append(r.partId);
            ++m_roundRecords;
        }
        for (; ledger.ackedChecked < ackedNow; ++ledger.ackedChecked) {
            const auto &[partId, seq] = ledger.acked.at(ledger.ackedChecked);
            const auto found = ledger.seqOfPart.constFind(partId);
            if (found == ledger.seqOfPart.constEnd())
                problem(QStringLiteral("%1: acknowledged part %2 (seq %3) is lost").arg(ledger.label, partId).arg(seq));
            else if (*found != seq)
                problem(QStringLiteral("%1: part %2 was acknowledged at seq %3 but is stored at seq %4")
                            .arg(ledger.label, partId)
                            .arg(seq)
                            .arg(*found));
        }
    }

    void checkSessionExists(const Lane &lane)
    {
        ++m_roundPending;
        const QString externalId = lane.externalId;
        const QString id = lane.id;
        m_verifier.retrieveSession(externalId, this, [=, this](Result<SessionItem> item) {
            if (item) {
                ++m_sessionLookups;
                if (item->id != id)
                    problem(QStringLiteral("session %1 is now %2, was %3").arg(externalId, item->id, id));
            } else if (item.error().httpStatus == 404) {
                problem(QStringLiteral("created session %1 (%2) is gone").arg(externalId, id));
            }
            roundStep(!item && item.error().httpStatus != 404);
        });
    }

    ConnectionProfile m_profile;
    QRandomGenerator m_rng;
    const QElapsedTimer &m_clock;
    // Each client's requests share one connection pool, as one process would.
    QNetworkAccessManager m_inNetwork;
    SessionsClient m_sessions;
    RestTransport m_outTransport;
    // The checker's own connections, apart from both clients.
    RestTransport m_reader;
    SessionsClient m_verifier;
    QTimer m_inTicker;
    QTimer m_outTicker;
    QTimer m_createTimer;
    std::vector<std::unique_ptr<Lane>> m_lanes;
    bool m_writing = true;
    int m_inCursor = 0;
    int m_outCursor = 0;
    int m_creating = 0;
    int m_created = 0;
    int m_createRetries = 0;
    int m_createCached = 0;
    int m_inRetries = 0;
    int m_outRetries = 0;
    int m_subBackoffs = 0;
    int m_kills = 0;
    qint64 m_longestDown = 0;
    qint64 m_lastInAck = -1;
    qint64 m_lastOutAck = -1;
    qint64 m_longestInGap = 0;
    qint64 m_longestOutGap = 0;
    qint64 m_longestSubGap = 0;
    bool m_roundActive = false;
    bool m_roundFailed = false;
    int m_roundPending = 0;
    int m_rounds = 0;
    int m_roundsCut = 0;
    int m_roundsSkipped = 0;
    qint64 m_roundRecords = 0;
    qint64 m_sessionLookups = 0;
    qint64 m_recordsVerified = 0;
    qint64 m_liveVerified = 0;
    int m_problemCount = 0;
    QStringList m_problems;
};

class TestKillSoak : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void nothingAcknowledgedIsLost();
};

void TestKillSoak::nothingAcknowledgedIsLost()
{
    const int seconds = soakSeconds();
    const quint32 seed = soakSeed();
    qInfo("soak for %d s, seed %u (SESSIONSCOPE_SOAK_SECONDS, SESSIONSCOPE_SOAK_SEED repeat it)", seconds, seed);
    QElapsedTimer clock;
    clock.start();

    ServerKiller killer(seed, clock);
    const auto profile = killer.started();
    QVERIFY2(profile.ok(), describe(profile).constData());

    KillSoak soak(*profile, seed, clock);
    connect(&killer, &ServerKiller::killed, &soak, &KillSoak::onKilled);
    connect(&killer, &ServerKiller::restarted, &soak, &KillSoak::onRestarted);
    bool restartFailed = false;
    connect(&killer, &ServerKiller::restartFailed, &soak, [&](const QString &error) {
        restartFailed = true;
        soak.problem(QStringLiteral("the server did not come back: %1").arg(error));
    });

    for (int i = 0; i < InitialSessions; ++i)
        soak.createSession();
    QVERIFY2(settleWithin(20s, [&] { return soak.laneCount() == InitialSessions; }),
             qPrintable(soak.problems().join(QLatin1Char('\n'))));

    soak.startClients();
    killer.startKilling();
    const qint64 soakStart = clock.elapsed();
    // Ends early only when the soak cannot go on; problems are collected
    // and reported together at the end.
    runFor(std::chrono::seconds(seconds),
           [&] { return restartFailed || soak.problemCount() >= MaxProblemsKept; });
    const qint64 soakMs = clock.elapsed() - soakStart;

    killer.requestCalm();
    if (!settleWithin(60s, [&] { return killer.isCalm(); }))
        soak.problem(QStringLiteral("the server did not settle within 60 s"));
    soak.stopWriting();
    // InAppender gives up after 120 s; so does client 2.
    if (!settleWithin(150s, [&] { return soak.idle(); }))
        soak.problem(QStringLiteral("appends still in flight 150 s after the soak"));
    // A last incremental round with the server up for good must read
    // everything; then the whole streams again from the start.
    soak.startRound();
    if (!settleWithin(60s, [&] { return !soak.roundActive(); }))
        soak.problem(QStringLiteral("the last read-back did not finish within 60 s"));
    else if (!soak.lastRoundComplete())
        soak.problem(QStringLiteral("the last read-back failed with the server up"));
    soak.finalCheck();
    if (!settleWithin(60s, [&] { return soak.subscriptionsCaughtUp(); }))
        soak.problem(QStringLiteral("the subscriptions did not catch up within 60 s of the last append"));
    soak.checkSubscriptions();
    soak.report(soakMs);
    QVERIFY2(soak.problemCount() == 0, qPrintable(QStringLiteral("%1 problems, first ones:\n%2")
                                                      .arg(soak.problemCount())
                                                      .arg(soak.problems().join(QLatin1Char('\n')))));
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    // Qt Test's watchdog aborts a test function after five minutes by
    // default; this one soaks that long and then checks.
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", QByteArray::number((qint64(soakSeconds()) + 300) * 1000));
    TestKillSoak test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_killsoak.moc"
