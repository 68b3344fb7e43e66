#include "models/conversationmodel.h"
#include "models/recordbatchdecoder.h"

#include "modeltestsupport.h"
#include "netfixtures.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace sessionscope;
using namespace sessionscope::testing;
using json = nlohmann::json;

namespace {

QList<StreamRecord> fixtureRecords()
{
    S2BatchDecoder s2;
    QList<StreamRecord> out;
    for (const SseEvent &event : parseWhole(readFixture(QStringLiteral("two-turns.sse"))))
        out += s2.decode(event).records;
    return out;
}

// Feeds a reducer and the model one record at a time, as a worker flushing
// after every record would.
struct Feeder
{
    ConversationReducer reducer;
    ConversationModel *model;

    void apply(const StreamRecord &record, Channel channel = Channel::Out)
    {
        reducer.apply(record, channel);
        model->applyUpdate(ConversationUpdate::collect(reducer));
    }
    void applyAll(const QList<StreamRecord> &records, Channel channel = Channel::Out)
    {
        for (const StreamRecord &r : records)
            reducer.apply(r, channel);
        model->applyUpdate(ConversationUpdate::collect(reducer));
    }
};

json userInput(const char *id, const char *text)
{
    return {{"kind", "message"},
            {"payload",
             {{"chatId", "chat-1"},
              {"trigger", "submit-message"},
              {"message", {{"id", id}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", text}}}}}}}}};
}

QVariant role(const QModelIndex &index, int r)
{
    return index.data(r);
}

} // namespace

class TestConversationModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fixtureRecordByRecord()
    {
        ConversationModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        Feeder feed{{}, &model};
        const QList<StreamRecord> records = fixtureRecords();
        QCOMPARE(records.size(), 22);

        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        for (int i = 0; i <= 3; ++i) // start, start-step, text-start, "Hello"
            feed.apply(records[i]);
        QCOMPARE(model.rowCount(), 1);
        const QModelIndex message = model.index(0, 0);
        QCOMPARE(role(message, ConversationModel::TextRole).toString(), QStringLiteral("Hello"));
        QVERIFY(role(message, ConversationModel::StreamingRole).toBool());
        QCOMPARE(model.rowCount(message), 2); // step-start, text
        const QModelIndex text = model.index(1, 0, message);
        QCOMPARE(role(text, ConversationModel::PartTypeRole).toString(), QStringLiteral("text"));
        QVERIFY(role(text, ConversationModel::StreamingRole).toBool());
        QVERIFY(role(text, ConversationModel::IsPartRole).toBool());
        QCOMPARE(model.parent(text), message);

        // A delta changes the text part and the message in place: no rows.
        inserted.clear();
        changed.clear();
        feed.apply(records[4]);
        QCOMPARE(inserted.size(), 0);
        QCOMPARE(changed.size(), 2);
        QCOMPARE(changed[0][0].toModelIndex(), text);
        QCOMPARE(changed[1][0].toModelIndex(), message);
        QCOMPARE(role(text, ConversationModel::TextRole).toString(), QStringLiteral("Hello, "));

        for (int i = 5; i < records.size(); ++i)
            feed.apply(records[i]);
        QCOMPARE(model.rowCount(), 4);
        const QStringList kinds{QStringLiteral("message"), QStringLiteral("turn-complete"), QStringLiteral("message"),
                                QStringLiteral("turn-complete")};
        for (int row = 0; row < 4; ++row)
            QCOMPARE(role(model.index(row, 0), ConversationModel::EntryKindNameRole).toString(), kinds[row]);
        QCOMPARE(role(model.index(0, 0), ConversationModel::MessageIdRole).toString(), QStringLiteral("JIVcwoE0UhCLLoNf"));
        QCOMPARE(role(model.index(2, 0), ConversationModel::MessageIdRole).toString(), QStringLiteral("TmjbJRIdtqllcDfe"));
        QCOMPARE(role(model.index(0, 0), ConversationModel::FinishReasonRole).toString(), QStringLiteral("stop"));
        QVERIFY(!role(model.index(0, 0), ConversationModel::StreamingRole).toBool());
        QCOMPARE(role(model.index(2, 0), ConversationModel::TextRole).toString(), QStringLiteral("Hello, world"));
        QCOMPARE(model.index(0, 0).data().toString(), QStringLiteral("assistant: Hello, world"));
        // Turn boundaries: the .in seq each turn answered, and a new token.
        QCOMPARE(role(model.index(1, 0), ConversationModel::SessionInEventIdRole).toLongLong(), 0);
        QCOMPARE(role(model.index(3, 0), ConversationModel::SessionInEventIdRole).toLongLong(), 1);
        QVERIFY(role(model.index(1, 0), ConversationModel::TokenRefreshedRole).toBool());
        QCOMPARE(role(model.index(0, 0), ConversationModel::TurnRole).toInt(), 0);
        QCOMPARE(role(model.index(1, 0), ConversationModel::TurnRole).toInt(), 0);
        QCOMPARE(role(model.index(2, 0), ConversationModel::TurnRole).toInt(), 1);
        QCOMPARE(role(model.index(1, 0), ConversationModel::SeqRole).toLongLong(), 9);
        QCOMPARE(model.rowCount(model.index(1, 0)), 0);
        QCOMPARE(model.rowForMessage(1), 2);
        QVERIFY(model.roleNames().value(ConversationModel::ToolAwaitingApprovalRole) == "toolAwaitingApproval");
    }

    void oneInsertionPerUpdate()
    {
        ConversationModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        Feeder feed{{}, &model};
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        // The whole fixture as one batch: four timeline rows in one insertion.
        feed.applyAll(fixtureRecords());
        QCOMPARE(model.rowCount(), 4);
        int topLevel = 0;
        for (const auto &args : inserted)
            topLevel += !args[0].toModelIndex().isValid();
        QCOMPARE(topLevel, 1);
    }

    void userMessagesToolsDataAndMarkers()
    {
        ConversationModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        Feeder feed{{}, &model};

        const json send = {
            {"kind", "message"},
            {"payload",
             {{"chatId", "c1"},
              {"trigger", "submit-message"},
              {"message", {{"id", "u1"}, {"role", "user"}, {"parts", {{{"type", "text"}, {"text", "weather?"}}}}}},
              {"metadata", {{"appVersion", "2"}}}}},
        };
        feed.apply(inRecord(0, send), Channel::In);
        QCOMPARE(model.rowCount(), 1);
        const QModelIndex user = model.index(0, 0);
        QCOMPARE(role(user, ConversationModel::MessageRoleRole).toString(), QStringLiteral("user"));
        QCOMPARE(role(user, ConversationModel::ChannelRole).toInt(), int(Channel::In));
        QCOMPARE(role(user, ConversationModel::TriggerRole).toString(), QStringLiteral("submit-message"));
        QCOMPARE(role(user, ConversationModel::ClientDataRole).toString(), QStringLiteral("{\"appVersion\":\"2\"}"));
        QCOMPARE(role(user, ConversationModel::TextRole).toString(), QStringLiteral("weather?"));

        QSignalSpy partsInserted(&model, &QAbstractItemModel::rowsInserted);
        const QList<StreamRecord> turn{
            dataRecord(0, {{"type", "start"}, {"messageId", "a1"}}),
            dataRecord(1, {{"type", "reasoning-start"}, {"id", "r1"}}),
            dataRecord(2, {{"type", "reasoning-delta"}, {"id", "r1"}, {"delta", "think"}}),
            dataRecord(3, {{"type", "reasoning-end"}, {"id", "r1"}}),
            dataRecord(4, {{"type", "tool-input-start"}, {"toolCallId", "c1"}, {"toolName", "weather"}}),
            dataRecord(5, {{"type", "tool-input-delta"}, {"toolCallId", "c1"}, {"inputTextDelta", "{\"city\":"}}),
        };
        for (const StreamRecord &r : turn)
            feed.apply(r);
        QCOMPARE(model.rowCount(), 2);
        const QModelIndex assistant = model.index(1, 0);
        QCOMPARE(model.rowCount(assistant), 2);
        const QModelIndex reasoning = model.index(0, 0, assistant);
        QCOMPARE(role(reasoning, ConversationModel::PartTypeRole).toString(), QStringLiteral("reasoning"));
        QCOMPARE(role(reasoning, ConversationModel::TextRole).toString(), QStringLiteral("think"));
        QCOMPARE(role(assistant, ConversationModel::ReasoningRole).toString(), QStringLiteral("think"));
        const QModelIndex tool = model.index(1, 0, assistant);
        QCOMPARE(role(tool, ConversationModel::ToolNameRole).toString(), QStringLiteral("weather"));
        QCOMPARE(role(tool, ConversationModel::ToolStateRole).toString(), QStringLiteral("input-streaming"));
        QCOMPARE(role(tool, ConversationModel::ToolInputRole).toString(), QStringLiteral("{\"city\":"));

        // The tool finishes in place; a second one waits for approval; data and an error follow.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        feed.applyAll({
            dataRecord(6, {{"type", "tool-input-available"}, {"toolCallId", "c1"}, {"toolName", "weather"},
                           {"input", {{"city", "Oslo"}}}}),
            dataRecord(7, {{"type", "tool-output-available"}, {"toolCallId", "c1"}, {"output", {{"tempC", 3}}}}),
        });
        QCOMPARE(model.rowCount(assistant), 2);
        QVERIFY(!changed.isEmpty());
        QCOMPARE(role(tool, ConversationModel::ToolStateRole).toString(), QStringLiteral("output-available"));
        QCOMPARE(role(tool, ConversationModel::ToolInputRole).toString(), QStringLiteral("{\"city\":\"Oslo\"}"));
        QCOMPARE(role(tool, ConversationModel::ToolOutputRole).toString(), QStringLiteral("{\"tempC\":3}"));
        QCOMPARE(tool.data().toString(), QStringLiteral("weather [output-available]"));

        feed.applyAll({
            dataRecord(8, {{"type", "tool-input-start"}, {"toolCallId", "c2"}, {"toolName", "book"}}),
            dataRecord(9, {{"type", "tool-input-available"}, {"toolCallId", "c2"}, {"toolName", "book"},
                           {"input", {{"seat", "1A"}}}}),
            dataRecord(10, {{"type", "tool-approval-request"}, {"toolCallId", "c2"}, {"approvalId", "ap1"}}),
            dataRecord(11, {{"type", "data-weather"}, {"id", "d1"}, {"data", {{"sky", "grey"}}}}),
            dataRecord(12, {{"type", "error"}, {"errorText", "rate limited"}}),
            dataRecord(13, {{"type", "finish"}, {"finishReason", "tool-calls"}}),
        });
        QCOMPARE(model.rowCount(assistant), 4);
        const QModelIndex approval = model.index(2, 0, assistant);
        QCOMPARE(role(approval, ConversationModel::ToolStateRole).toString(), QStringLiteral("approval-requested"));
        QVERIFY(role(approval, ConversationModel::ToolAwaitingApprovalRole).toBool());
        QCOMPARE(role(approval, ConversationModel::ToolApprovalIdRole).toString(), QStringLiteral("ap1"));
        const QModelIndex data = model.index(3, 0, assistant);
        QCOMPARE(role(data, ConversationModel::PartTypeRole).toString(), QStringLiteral("data"));
        QCOMPARE(role(data, ConversationModel::DataTypeRole).toString(), QStringLiteral("data-weather"));
        QCOMPARE(role(data, ConversationModel::DataRole).toString(), QStringLiteral("{\"sky\":\"grey\"}"));
        QCOMPARE(role(assistant, ConversationModel::ErrorTextRole).toString(), QStringLiteral("rate limited"));
        QCOMPARE(role(assistant, ConversationModel::FinishReasonRole).toString(), QStringLiteral("tool-calls"));
        QCOMPARE(model.rowCount(), 3);
        const QModelIndex error = model.index(2, 0);
        QCOMPARE(role(error, ConversationModel::EntryKindNameRole).toString(), QStringLiteral("error"));
        QCOMPARE(role(error, ConversationModel::TextRole).toString(), QStringLiteral("rate limited"));
        QCOMPARE(role(error, ConversationModel::MessageIndexRole).toInt(), 1);
        QCOMPARE(model.rowCount(error), 0);

        // The turn ends, the agent hands over to a new version, the user stops.
        feed.applyAll({controlRecord(14, controlheader::TurnComplete, {{controlheader::SessionInEventId, "0"}}),
                       controlRecord(15, controlheader::UpgradeRequired)});
        feed.apply(inRecord(1, {{"kind", "stop"}, {"message", "enough"}}), Channel::In);
        QCOMPARE(model.rowCount(), 6);
        QCOMPARE(role(model.index(3, 0), ConversationModel::EntryKindNameRole).toString(), QStringLiteral("turn-complete"));
        QCOMPARE(role(model.index(4, 0), ConversationModel::EntryKindNameRole).toString(), QStringLiteral("upgrade-required"));
        QCOMPARE(role(model.index(4, 0), ConversationModel::TurnRole).toInt(), 1);
        QCOMPARE(role(model.index(5, 0), ConversationModel::EntryKindNameRole).toString(), QStringLiteral("stop"));
        QCOMPARE(role(model.index(5, 0), ConversationModel::TextRole).toString(), QStringLiteral("enough"));
        QCOMPARE(model.index(5, 0).data().toString(), QStringLiteral("Stop: enough"));
    }

    void reducerComplaintsAreSignalled()
    {
        ConversationModel model;
        Feeder feed{{}, &model};
        QSignalSpy errors(&model, &ConversationModel::errorsOccurred);
        feed.apply(dataRecord(0, {{"type", "text-delta"}, {"id", "never-started"}, {"delta", "x"}}));
        feed.apply(dataRecord(1, {{"type", "no-such-chunk"}}));
        QCOMPARE(errors.size(), 2);
        QCOMPARE(errors[1][0].value<QList<Error>>().first().seq, 1);
    }

    void lateInputIsInsertedAboveItsAnswer()
    {
        // `.in` lags behind `.out`: both user messages come after both answers.
        ConversationModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        Feeder feed{{}, &model};
        feed.applyAll(fixtureRecords());
        QCOMPARE(model.rowCount(), 4);
        const QPersistentModelIndex secondAnswer = model.index(2, 0);
        const QPersistentModelIndex secondText = model.index(model.rowCount(secondAnswer) - 1, 0, secondAnswer);
        QCOMPARE(role(secondText, ConversationModel::PartTypeRole).toString(), QStringLiteral("text"));

        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        feed.reducer.apply(inRecord(0, userInput("u1", "Hi")), Channel::In);
        feed.reducer.apply(inRecord(1, userInput("u2", "Again")), Channel::In);
        model.applyUpdate(ConversationUpdate::collect(feed.reducer));

        // One insertion per contiguous run, at the rows the messages belong to.
        QCOMPARE(inserted.size(), 2);
        QCOMPARE(inserted[0][1].toInt(), 0);
        QCOMPARE(inserted[0][2].toInt(), 0);
        QCOMPARE(inserted[1][1].toInt(), 3);
        QCOMPARE(inserted[1][2].toInt(), 3);
        QStringList rows;
        for (int row = 0; row < model.rowCount(); ++row)
            rows.append(model.index(row, 0).data().toString());
        QCOMPARE(rows, (QStringList{"user: Hi", "assistant: Hello, world", "Turn complete (in seq 0)", "user: Again",
                                    "assistant: Hello, world", "Turn complete (in seq 1)"}));
        const QList<int> turns{0, 0, 0, 1, 1, 1};
        const QList<int> messageIndexes{0, 1, 1, 2, 3, 3};
        for (int row = 0; row < model.rowCount(); ++row) {
            QCOMPARE(role(model.index(row, 0), ConversationModel::TurnRole).toInt(), turns[row]);
            QCOMPARE(role(model.index(row, 0), ConversationModel::MessageIndexRole).toInt(), messageIndexes[row]);
        }
        for (int message = 0; message < 4; ++message)
            QCOMPARE(model.rowForMessage(message), message < 2 ? message : message + 1);
        QCOMPARE(model.messages()[2].text(), QStringLiteral("Again"));
        // Indexes kept by views follow their rows, parts included.
        QCOMPARE(secondAnswer.row(), 4);
        QCOMPARE(secondText.parent(), QModelIndex(secondAnswer));
        QCOMPARE(role(secondText, ConversationModel::TextRole).toString(), QStringLiteral("Hello, world"));
        QCOMPARE(role(secondText, ConversationModel::MessageIndexRole).toInt(), 3);
    }

    void lateInputWhileTheAnswerStreams()
    {
        ConversationModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        Feeder feed{{}, &model};
        const QList<StreamRecord> records = fixtureRecords();
        for (int i = 0; i <= 4; ++i)
            feed.apply(records[i]);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        feed.apply(inRecord(0, userInput("u1", "Hi")), Channel::In);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(inserted[0][1].toInt(), 0);
        QCOMPARE(model.index(0, 0).data().toString(), QStringLiteral("user: Hi"));
        // The answer streams on in its new row.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        feed.apply(records[5]);
        QVERIFY(!changed.isEmpty());
        QCOMPARE(changed.last()[0].toModelIndex(), model.index(1, 0));
        for (int i = 6; i < records.size(); ++i)
            feed.apply(records[i]);
        QCOMPARE(model.rowCount(), 5);
        QCOMPARE(model.index(1, 0).data().toString(), QStringLiteral("assistant: Hello, world"));
        QCOMPARE(role(model.index(2, 0), ConversationModel::EntryKindNameRole).toString(),
                 QStringLiteral("turn-complete"));
        QCOMPARE(role(model.index(3, 0), ConversationModel::TurnRole).toInt(), 1);
    }

    void updatesThatDoNotFitAreRefused()
    {
        ConversationModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::Fatal);
        Feeder feed{{}, &model};
        feed.applyAll(fixtureRecords());
        QSignalSpy errors(&model, &ConversationModel::errorsOccurred);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);

        // From another reducer: it starts its messages at 0 again.
        ConversationReducer other;
        for (const StreamRecord &r : fixtureRecords())
            other.apply(r, Channel::Out);
        model.applyUpdate(ConversationUpdate::collect(other));
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors[0][0].value<QList<Error>>().first().message.contains(QStringLiteral("refused")));
        QCOMPARE(inserted.size(), 0);
        QCOMPARE(model.rowCount(), 4);

        ConversationUpdate bogus;
        bogus.updatedIndexes = {7};
        bogus.updatedMessages = {UIMessage{}};
        model.applyUpdate(bogus);
        QCOMPARE(errors.size(), 2);

        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
        model.clear();
        QCOMPARE(reset.size(), 1);
        QCOMPARE(model.rowCount(), 0);
        // After a clear a fresh reducer fits again.
        Feeder again{{}, &model};
        again.applyAll(fixtureRecords());
        QCOMPARE(model.rowCount(), 4);
    }
};

QTEST_GUILESS_MAIN(TestConversationModel)
#include "tst_conversationmodel.moc"
