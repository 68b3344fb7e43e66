// bench "edge-proxy-latency": what `sessionscope-server --edge-proxy` adds to
// SSE delivery. Two SessionOutSubscriptions follow the same `.out`, one on the
// backend directly and one through the proxy; records are appended one at a
// time (each after the previous reached both), and each record's arrival
// through the proxy is compared with its arrival on the direct path, in the
// same process and clock. Both usually arrive in the same turn of the event
// loop, so an added latency near zero (even slightly negative: the proxied
// batch was decoded first) is below what this can resolve. The append-to-
// arrival times of both paths are reported too.
// Usage: SESSIONSCOPE_SECRET_KEY=KEY edge_latency_bench DIRECT_URL PROXY_URL RECORDS
//   -> one JSON line: {records, addedP50Ms, addedP99Ms, addedMaxMs, directP50Ms, directP99Ms,
//                      proxiedP50Ms, proxiedP99Ms}
#include "bench/benchsupport.h"
#include "net/sessionoutsubscription.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>

#include <algorithm>
#include <cstdio>

using namespace sessionscope;

namespace {

double percentile(QList<double> values, double p)
{
    if (values.isEmpty())
        return 0;
    std::sort(values.begin(), values.end());
    return values.at(qMin(values.size() - 1, qsizetype(p * double(values.size() - 1) + 0.5)));
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    bool ok = false;
    const int expected = args.size() == 4 ? args.at(3).toInt(&ok) : 0;
    const QByteArray key = qgetenv("SESSIONSCOPE_SECRET_KEY");
    if (!ok || expected <= 0 || key.isEmpty()) {
        std::fputs("usage: SESSIONSCOPE_SECRET_KEY=KEY edge_latency_bench DIRECT_URL PROXY_URL RECORDS\n", stderr);
        return 2;
    }
    const QUrl direct(args.at(1));
    const QString session = QStringLiteral("edge-latency-%1").arg(QCoreApplication::applicationPid());
    QNetworkAccessManager nam;
    const auto post = [&](const QString &path, const QByteArray &body, const QByteArray &recordHeaders) {
        QNetworkRequest request(direct.resolved(QUrl(path)));
        request.setRawHeader("Authorization", "Bearer " + key);
        request.setRawHeader("Content-Type", "application/json");
        if (!recordHeaders.isEmpty())
            request.setRawHeader("X-Record-Headers", recordHeaders);
        return nam.post(request, body);
    };

    QNetworkReply *created = post(QStringLiteral("/api/v1/sessions"),
                                  "{\"type\":\"chat.agent\",\"externalId\":\"" + session.toUtf8() +
                                      "\",\"taskIdentifier\":\"bench-edge\",\"triggerConfig\":{\"basePayload\":{}}}",
                                  {});
    QObject::connect(created, &QNetworkReply::finished, &app, [&] {
        if (created->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() != 201) {
            std::fprintf(stderr, "edge_latency_bench: create failed: %s\n", created->readAll().constData());
            QCoreApplication::exit(1);
        }
    });

    struct Side
    {
        std::unique_ptr<SessionOutSubscription> subscription;
        QList<qint64> arrivedNs;
    };
    Side sides[2];
    QElapsedTimer clock;
    clock.start();
    QList<qint64> appendedNs;
    int next = 0;
    std::function<void()> appendNext;
    const auto maybeNext = [&] {
        if (sides[0].arrivedNs.size() >= next && sides[1].arrivedNs.size() >= next) {
            if (next == expected)
                QCoreApplication::quit();
            else
                appendNext();
        }
    };
    appendNext = [&] {
        const qint64 seq = next++;
        appendedNs << clock.nsecsElapsed();
        QNetworkReply *reply = post(QStringLiteral("/realtime/v1/sessions/%1/out/append").arg(session),
                                    bench::textDeltaBody(seq), "[]");
        QObject::connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
    };
    for (int i = 0; i < 2; ++i) {
        ConnectionProfile profile = ConnectionProfile::selfHosted(QStringLiteral("bench"), QUrl(args.at(1 + i)));
        profile.secretKey = QString::fromUtf8(key);
        sides[i].subscription = std::make_unique<SessionOutSubscription>(profile, session);
        SessionOutSubscription::Options options;
        options.timeoutSeconds = 600;
        options.peekSettled = false;
        sides[i].subscription->setOptions(options);
        QObject::connect(sides[i].subscription.get(), &SessionOutSubscription::recordsReceived, &app,
                         [&, i](const QList<StreamRecord> &batch) {
                             for (qsizetype n = 0; n < batch.size(); ++n)
                                 sides[i].arrivedNs << clock.nsecsElapsed();
                             maybeNext();
                         });
        QObject::connect(sides[i].subscription.get(), &SessionOutSubscription::failed, &app, [](const Error &e) {
            std::fprintf(stderr, "edge_latency_bench: %s\n", qPrintable(e.message));
            QCoreApplication::exit(1);
        });
    }
    QObject::connect(created, &QNetworkReply::finished, &app, [&] {
        for (Side &side : sides)
            side.subscription->start(-1);
        // Both streams are open once their first ping (the tail) arrives; the
        // first append waits a moment for that instead of racing it.
        QTimer::singleShot(500, &app, appendNext);
    });
    QTimer::singleShot(300'000, &app, [] {
        std::fputs("edge_latency_bench: gave up after 300 s\n", stderr);
        QCoreApplication::exit(1);
    });
    if (app.exec() != 0)
        return 1;

    QList<double> added;
    QList<double> directMs;
    QList<double> proxiedMs;
    for (int i = 0; i < expected; ++i) {
        added << double(sides[1].arrivedNs.at(i) - sides[0].arrivedNs.at(i)) / 1e6;
        directMs << double(sides[0].arrivedNs.at(i) - appendedNs.at(i)) / 1e6;
        proxiedMs << double(sides[1].arrivedNs.at(i) - appendedNs.at(i)) / 1e6;
    }
    bench::printFigures({{QStringLiteral("records"), expected},
                         {QStringLiteral("addedP50Ms"), percentile(added, 0.5)},
                         {QStringLiteral("addedP99Ms"), percentile(added, 0.99)},
                         {QStringLiteral("addedMaxMs"), percentile(added, 1.0)},
                         {QStringLiteral("directP50Ms"), percentile(directMs, 0.5)},
                         {QStringLiteral("directP99Ms"), percentile(directMs, 0.99)},
                         {QStringLiteral("proxiedP50Ms"), percentile(proxiedMs, 0.5)},
                         {QStringLiteral("proxiedP99Ms"), percentile(proxiedMs, 0.99)}});
    return 0;
}
