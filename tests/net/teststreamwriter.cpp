#include "teststreamwriter.h"

#include "awaitresult.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace sessionscope {

TestStreamWriter::TestStreamWriter(const ConnectionProfile &profile) : m_profile(profile)
{
    m_transport.setBearer(profile.secretKey);
}

HttpRequest TestStreamWriter::request(const QString &session, Channel channel) const
{
    HttpRequest r;
    r.verb = "POST";
    r.url = m_profile.url(channel == Channel::Out ? EndpointFamily::Out : EndpointFamily::In,
                          {QStringLiteral("realtime"), QStringLiteral("v1"), QStringLiteral("sessions"), session,
                           channel == Channel::Out ? QStringLiteral("out") : QStringLiteral("in"),
                           QStringLiteral("append")});
    return r;
}

Result<qint64> TestStreamWriter::send(HttpRequest request)
{
    auto answer = awaitResult<HttpResponse>([&](auto done) { m_transport.send(std::move(request), nullptr, done); });
    if (!answer)
        return answer.error();
    const auto object = answer->jsonObject();
    if (!object)
        return object.error();
    return qint64(object->value(QStringLiteral("seq")).toDouble(-1));
}

Result<qint64> TestStreamWriter::append(const QString &session, const QByteArray &body, const QString &partId,
                                        Channel channel)
{
    HttpRequest r = request(session, channel);
    r.body = body;
    if (!partId.isEmpty())
        r.headers.append({"X-Part-Id", partId.toLatin1()});
    return send(std::move(r));
}

Result<qint64> TestStreamWriter::appendRecord(const QString &session, const QList<StreamHeader> &headers,
                                              const QByteArray &body)
{
    QJsonArray list;
    for (const auto &[name, value] : headers)
        list.append(QJsonArray{QString::fromUtf8(name), QString::fromUtf8(value)});
    HttpRequest r = request(session, Channel::Out);
    r.body = body;
    r.headers.append({"X-Record-Headers", QJsonDocument(list).toJson(QJsonDocument::Compact)});
    return send(std::move(r));
}

Result<qint64> TestStreamWriter::appendControl(const QString &session, const QByteArray &subtype,
                                               const QList<StreamHeader> &extraHeaders)
{
    return appendRecord(session, QList<StreamHeader>{{"trigger-control", subtype}} + extraHeaders, {});
}

Result<qint64> TestStreamWriter::appendCommand(const QString &session, const QByteArray &op, const QByteArray &body)
{
    return appendRecord(session, {{QByteArray(), op}}, body);
}

Result<void> TestStreamWriter::appendMany(const QString &session, int count, const QString &prefix, int parallel)
{
    // Shared, not on the stack: answers may still arrive after a timeout.
    struct State
    {
        int next = 0;
        int done = 0;
        std::optional<Error> failure;
        std::function<void()> sendNext;
    };
    auto state = std::make_shared<State>();
    std::weak_ptr<State> weak = state;
    state->sendNext = [this, weak, session, count, prefix] {
        const auto st = weak.lock();
        if (!st || st->next >= count || st->failure)
            return;
        const int i = st->next++;
        HttpRequest r = request(session, Channel::Out);
        r.body = QStringLiteral(R"({"type":"text-delta","id":"t","delta":"%1"})").arg(i).toUtf8();
        r.headers.append({"X-Part-Id", (prefix + QString::number(i)).toLatin1()});
        m_transport.send(std::move(r), nullptr, [weak](Result<HttpResponse> answer) {
            const auto st = weak.lock();
            if (!st)
                return;
            ++st->done;
            if (!answer && !st->failure)
                st->failure = answer.error();
            st->sendNext();
        });
    };
    for (int i = 0; i < parallel; ++i)
        state->sendNext();
    // Bounded: a stuck server fails the test instead of hanging it.
    const bool finished = waitUntil(
        [&] { return state->done == state->next && (state->next == count || state->failure); },
        std::chrono::seconds(120));
    state->sendNext = nullptr;
    if (!finished)
        return Error::make(QStringLiteral("appending %1 records did not finish in time (%2 done)")
                               .arg(count)
                               .arg(state->done));
    if (state->failure)
        return *state->failure;
    return {};
}

} // namespace sessionscope
