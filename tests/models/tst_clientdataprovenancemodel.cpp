#include "models/clientdataprovenancemodel.h"
#include "models/conversationmodel.h"
#include "models/conversationupdate.h"

#include "modeltestsupport.h"

#include <QAbstractItemModelTester>
#include <QJsonObject>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;
using Verdict = ClientDataProvenanceModel::EdgeVerdict;

namespace {

StreamRecord message(qint64 seq, const nlohmann::json &metadata)
{
    nlohmann::json payload = {{"chatId", "c"},
                              {"trigger", "submit-message"},
                              {"message", {{"id", "u" + std::to_string(seq)}, {"role", "user"},
                                           {"parts", {{{"type", "text"}, {"text", "hi"}}}}}}};
    if (!metadata.is_null())
        payload["metadata"] = metadata;
    return inRecord(seq, {{"kind", "message"}, {"payload", payload}});
}

Verdict verdictOf(const ClientDataProvenanceModel &model, int row)
{
    return Verdict(model.index(row, 0).data(ClientDataProvenanceModel::EdgeVerdictRole).toInt());
}

} // namespace

class TestClientDataProvenanceModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void verdictsFollowTheEdgeKey()
    {
        ClientDataProvenanceModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.setEdgeNamespace(QStringLiteral("__edge"));

        // 0: the console forged __edge, the edge replaced it.
        model.addSent(0, QJsonObject{{"userId", "ada"}, {"__edge", QJsonObject{{"bot", 0}}}});
        QCOMPARE(verdictOf(model, 0), Verdict::Pending);
        model.setReceived(0, QJsonObject{{"userId", "ada"}, {"__edge", QJsonObject{{"bot", 97}}}});
        QCOMPARE(verdictOf(model, 0), Verdict::ForgedReplaced);
        // 1: the edge added its key.
        model.addSent(1, QJsonObject{{"userId", "ada"}});
        model.setReceived(1, QJsonObject{{"userId", "ada"}, {"__edge", QJsonObject{{"bot", 97}}}});
        QCOMPARE(verdictOf(model, 1), Verdict::EdgeWrote);
        QCOMPARE(model.index(1, ClientDataProvenanceModel::ReceivedColumn).data().toString(),
                 QStringLiteral("__edge (edge-owned), userId"));
        QVERIFY(!model.index(1, 0).data(ClientDataProvenanceModel::IsProblemRole).toBool());
        // 2: bypassed the edge, no key at all; 3: the forged value got through.
        model.addSent(2, QJsonObject{{"userId", "ada"}});
        model.setReceived(2, QJsonObject{{"userId", "ada"}});
        model.addSent(3, QJsonObject{{"__edge", 1}});
        model.setReceived(3, QJsonObject{{"__edge", 1}});
        QCOMPARE(verdictOf(model, 2), Verdict::Missing);
        QCOMPARE(verdictOf(model, 3), Verdict::PassedThrough);
        QVERIFY(model.index(2, 0).data(ClientDataProvenanceModel::IsProblemRole).toBool());
        QVERIFY(model.index(3, ClientDataProvenanceModel::EdgeColumn).data(Qt::ForegroundRole).isValid());
        QCOMPARE(model.rowCount(), 4);

        // Without a namespace there is nothing to judge.
        model.setEdgeNamespace({});
        QCOMPARE(verdictOf(model, 0), Verdict::NoNamespace);
        QVERIFY(!model.index(3, 0).data(ClientDataProvenanceModel::IsProblemRole).toBool());
    }

    void receivedComesFromTheConversation()
    {
        ConversationModel conversation;
        ConversationReducer reducer;
        ClientDataProvenanceModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        model.setEdgeNamespace(QStringLiteral("__edge"));
        model.followConversation(&conversation);

        // A send from this console, then its record arrives rewritten.
        model.addSent(0, QJsonObject{{"userId", "ada"}, {"__edge", "forged"}});
        reducer.apply(message(0, {{"userId", "ada"}, {"__edge", {{"asn", 64500}}}}), Channel::In);
        conversation.applyUpdate(ConversationUpdate::collect(reducer));
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(verdictOf(model, 0), Verdict::ForgedReplaced);
        QVERIFY(model.index(0, 0).data(Qt::ToolTipRole).toString().contains(QStringLiteral("64500")));

        // Another client's turn (not sent here) shows up too, in .in order.
        reducer.apply(message(1, nullptr), Channel::In);
        conversation.applyUpdate(ConversationUpdate::collect(reducer));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(1, ClientDataProvenanceModel::SentColumn).data().toString(),
                 QStringLiteral("(not from this console)"));
        QCOMPARE(verdictOf(model, 1), Verdict::Missing);

        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestClientDataProvenanceModel)
#include "tst_clientdataprovenancemodel.moc"
