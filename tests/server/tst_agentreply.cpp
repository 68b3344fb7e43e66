// The reply generator's UIMessageChunk sequences and the conversation that
// rebuilds messages from them.
#include "server/agent/builtinversions.h"
#include "server/agent/conversation.h"
#include "server/agent/replygenerator.h"

#include <QJsonArray>
#include <QSet>
#include <QTest>

using namespace sessionscope;

namespace {

QStringList types(const QList<QJsonObject> &chunks)
{
    QStringList out;
    for (const QJsonObject &c : chunks)
        out << c.value("type").toString();
    return out;
}

QString joinedDeltas(const QList<QJsonObject> &chunks, const QString &type)
{
    QString text;
    for (const QJsonObject &c : chunks) {
        if (c.value("type").toString() == type)
            text += c.value("delta").toString();
    }
    return text;
}

AgentVersion echoVersion()
{
    AgentVersion v;
    v.task = QStringLiteral("chat-agent");
    v.label = QStringLiteral("20261121.1");
    return v;
}

QJsonObject userMessage(const QString &id, const QString &text)
{
    return QJsonObject{{"id", id}, {"role", "user"},
                       {"parts", QJsonArray{QJsonObject{{"type", "text"}, {"text", text}}}}};
}

} // namespace

class TestAgentReply : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void splitWordsKeepsEverything_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("words");
        QTest::newRow("plain") << "Hello, world" << QStringList{"Hello, ", "world"};
        QTest::newRow("leading space") << "  a b" << QStringList{"  a ", "b"};
        QTest::newRow("trailing") << "a  " << QStringList{"a  "};
        QTest::newRow("newline") << "a\nb" << QStringList{"a\n", "b"};
        QTest::newRow("empty") << "" << QStringList{};
    }

    void splitWordsKeepsEverything()
    {
        QFETCH(QString, text);
        QFETCH(QStringList, words);
        QCOMPARE(ReplyGenerator::splitWords(text), words);
        QCOMPARE(ReplyGenerator::splitWords(text).join(QString()), text);
    }

    void echoTurnHasExactOrder()
    {
        ReplyGenerator gen(QStringLiteral("n1"));
        ReplyRequest req;
        req.userText = QStringLiteral("ping pong");
        const auto chunks = gen.reply(echoVersion(), req);
        QCOMPARE(types(chunks), (QStringList{"start", "start-step", "text-start", "text-delta", "text-delta",
                                             "text-delta", "text-delta", "text-end", "finish-step", "finish"}));
        QCOMPARE(joinedDeltas(chunks, "text-delta"), QStringLiteral("You said: ping pong"));
        QVERIFY(chunks.first().value("messageId").toString().startsWith("msg_n1_"));
        const QString textId = chunks.at(2).value("id").toString();
        for (int i = 2; i <= 7; ++i)
            QCOMPARE(chunks.at(i).value("id").toString(), textId);
        QCOMPARE(chunks.last().value("finishReason").toString(), QStringLiteral("stop"));
    }

    void fixedAndScripted()
    {
        ReplyGenerator gen;
        AgentVersion fixed = echoVersion();
        fixed.reply.mode = AgentReplyBehaviour::Mode::Fixed;
        fixed.reply.text = QStringLiteral("Always this.");
        ReplyRequest req;
        req.userText = QStringLiteral("anything");
        QCOMPARE(joinedDeltas(gen.reply(fixed, req), "text-delta"), QStringLiteral("Always this."));

        AgentVersion scripted = echoVersion();
        scripted.reply.mode = AgentReplyBehaviour::Mode::Scripted;
        scripted.reply.script = {QStringLiteral("first"), QStringLiteral("second")};
        QStringList answers;
        for (int turn = 0; turn < 3; ++turn) {
            req.answeredTurns = turn;
            answers << joinedDeltas(gen.reply(scripted, req), "text-delta");
        }
        QCOMPARE(answers, (QStringList{"first", "second", "first"}));
    }

    void reasoningComesBeforeText()
    {
        ReplyGenerator gen;
        AgentVersion v = echoVersion();
        v.reply.reasoning = QStringLiteral("Considering options");
        ReplyRequest req;
        req.userText = QStringLiteral("hi");
        const auto chunks = gen.reply(v, req);
        QCOMPARE(types(chunks), (QStringList{"start", "start-step", "reasoning-start", "reasoning-delta",
                                             "reasoning-delta", "reasoning-end", "text-start", "text-delta",
                                             "text-delta", "text-delta", "text-end", "finish-step", "finish"}));
        QCOMPARE(joinedDeltas(chunks, "reasoning-delta"), QStringLiteral("Considering options"));
        QVERIFY(chunks.at(2).value("id") != chunks.at(6).value("id"));

        v.reply.reasoning = QString(); // derived from the question
        req.historySize = 3;
        const QString derived = joinedDeltas(gen.reply(v, req), "reasoning-delta");
        QVERIFY2(derived.contains("\"hi\"") && derived.contains("message 3"), qPrintable(derived));
    }

    void toolCallWithoutApproval()
    {
        ReplyGenerator gen;
        AgentVersion v = echoVersion();
        v.reply.tool = AgentToolCall{QStringLiteral("getWeather"), QJsonObject{{"city", "Oslo, Norway"}},
                                     QJsonObject{{"celsius", 4}}, false};
        ReplyRequest req;
        req.userText = QStringLiteral("weather?");
        const auto chunks = gen.reply(v, req);
        const QStringList t = types(chunks);
        QCOMPARE(t.mid(0, 3), (QStringList{"start", "start-step", "tool-input-start"}));
        const qsizetype available = t.indexOf("tool-input-available");
        QVERIFY(available > 3);
        for (qsizetype i = 3; i < available; ++i)
            QCOMPARE(t.at(i), QStringLiteral("tool-input-delta"));
        QCOMPARE(t.mid(available, 4), (QStringList{"tool-input-available", "tool-output-available", "finish-step", "start-step"}));
        QCOMPARE(t.mid(t.size() - 2), (QStringList{"finish-step", "finish"}));

        QString input;
        for (const QJsonObject &c : chunks) {
            if (c.value("type") == "tool-input-delta")
                input += c.value("inputTextDelta").toString();
        }
        QCOMPARE(input, QStringLiteral(R"({"city":"Oslo, Norway"})"));
        const QString callId = chunks.at(2).value("toolCallId").toString();
        QCOMPARE(chunks.at(2).value("toolName").toString(), QStringLiteral("getWeather"));
        QCOMPARE(chunks.at(available).value("toolCallId").toString(), callId);
        QCOMPARE(chunks.at(available + 1).value("output").toObject().value("celsius").toInt(), 4);
    }

    void toolApprovalRoundTrip()
    {
        ReplyGenerator gen;
        AgentVersion v = echoVersion();
        v.reply.tool = AgentToolCall{QStringLiteral("deleteFile"), QJsonObject{{"path", "/tmp/x"}},
                                     QJsonObject{{"deleted", true}}, true};
        ReplyRequest req;
        req.userText = QStringLiteral("clean up");
        const auto asked = gen.reply(v, req);
        const QStringList t = types(asked);
        QCOMPARE(t.mid(t.size() - 4), (QStringList{"tool-input-available", "tool-approval-request", "finish-step", "finish"}));
        QCOMPARE(asked.last().value("finishReason").toString(), QStringLiteral("tool-calls"));
        QVERIFY(!t.contains("text-start"));

        Conversation conversation;
        conversation.upsertMessage(userMessage("u1", "clean up"));
        for (const QJsonObject &c : asked)
            conversation.applyChunk(c);
        const QJsonObject assistant = *conversation.lastMessage();
        const QJsonObject toolPart = assistant.value("parts").toArray().at(1).toObject();
        QCOMPARE(toolPart.value("type").toString(), QStringLiteral("tool-deleteFile"));
        QCOMPARE(toolPart.value("state").toString(), QStringLiteral("approval-requested"));

        ToolApprovalAnswer answer{assistant.value("id").toString(), toolPart.value("toolCallId").toString(),
                                  QStringLiteral("deleteFile"), true};
        req.approval = answer;
        const auto approved = gen.reply(v, req);
        QCOMPARE(types(approved).mid(0, 5), (QStringList{"start", "start-step", "tool-output-available", "finish-step", "start-step"}));
        QCOMPARE(approved.first().value("messageId").toString(), answer.messageId);
        for (const QJsonObject &c : approved)
            conversation.applyChunk(c);
        QCOMPARE(conversation.size(), 2); // the same assistant message went on
        const QJsonArray parts = conversation.lastMessage()->value("parts").toArray();
        QCOMPARE(parts.at(1).toObject().value("state").toString(), QStringLiteral("output-available"));
        QCOMPARE(Conversation::textOf(*conversation.lastMessage()), QStringLiteral("You said: clean up"));

        req.approval->approved = false;
        const auto denied = gen.reply(v, req);
        QCOMPARE(denied.at(2).value("type").toString(), QStringLiteral("tool-output-denied"));
        QVERIFY(joinedDeltas(denied, "text-delta").contains("denied"));
    }

    void idsAreUniqueAcrossTurnsAndGenerators()
    {
        ReplyGenerator a;
        ReplyGenerator b;
        QVERIFY(a.nonce() != b.nonce());
        AgentVersion v = echoVersion();
        v.reply.reasoning = QString();
        v.reply.tool = AgentToolCall{QStringLiteral("t"), QJsonObject(), QJsonObject(), false};
        ReplyRequest req;
        req.userText = QStringLiteral("x");
        req.history = QJsonObject{{"messages", QJsonArray()}};
        QSet<QString> partIds;
        QSet<QString> chunkIds;
        for (ReplyGenerator *gen : {&a, &b, &a}) {
            const auto chunks = gen->reply(v, req);
            for (const QJsonObject &c : chunks) {
                const QString part = gen->nextPartId();
                QVERIFY(!partIds.contains(part));
                partIds.insert(part);
                const QString type = c.value("type").toString();
                if (type.endsWith("-start") && c.contains("id")) {
                    QVERIFY2(!chunkIds.contains(c.value("id").toString()), qPrintable(type));
                    chunkIds.insert(c.value("id").toString());
                }
            }
        }
        QVERIFY(partIds.size() > 30);
    }

    void historyPartAndContractError()
    {
        ReplyGenerator gen;
        ReplyRequest req;
        req.userText = QStringLiteral("again");
        req.history = QJsonObject{{"previousRunId", "run_1"}, {"messages", QJsonArray{1, 2}}};
        const auto chunks = gen.reply(echoVersion(), req);
        QCOMPARE(chunks.at(2).value("type").toString(), QStringLiteral("data-history"));
        QCOMPARE(chunks.at(2).value("data").toObject().value("previousRunId").toString(), QStringLiteral("run_1"));

        const auto error = gen.contractError(QJsonObject{{"message", "no deployed version supports protocolVersion v9"}});
        QCOMPARE(types(error), (QStringList{"start", "start-step", "data-contract-error", "finish-step", "finish"}));
        QCOMPARE(error.last().value("finishReason").toString(), QStringLiteral("error"));

        const auto action = gen.actionReply(QJsonObject{{"type", "undo"}});
        QCOMPARE(types(action).first(), QStringLiteral("start"));
        QCOMPARE(joinedDeltas(action, "text-delta"), QStringLiteral("Action undo received."));
    }

    void conversationRebuildsAndRegenerates()
    {
        ReplyGenerator gen;
        Conversation c;
        c.upsertMessage(userMessage("u1", "one"));
        ReplyRequest req;
        req.userText = QStringLiteral("one");
        AgentVersion v = echoVersion();
        v.reply.reasoning = QStringLiteral("hmm");
        for (const QJsonObject &chunk : gen.reply(v, req))
            c.applyChunk(chunk);
        QCOMPARE(c.size(), 2);
        const QJsonObject assistant = *c.lastMessage();
        QCOMPARE(assistant.value("role").toString(), QStringLiteral("assistant"));
        const QJsonArray parts = assistant.value("parts").toArray();
        QCOMPARE(parts.size(), 3); // step-start, reasoning, text
        QCOMPARE(parts.at(0).toObject().value("type").toString(), QStringLiteral("step-start"));
        QCOMPARE(parts.at(1).toObject().value("text").toString(), QStringLiteral("hmm"));
        QCOMPARE(parts.at(2).toObject().value("state").toString(), QStringLiteral("done"));
        QCOMPARE(Conversation::textOf(assistant), QStringLiteral("You said: one"));

        c.dropAfterLastUserMessage();
        QCOMPARE(c.size(), 1);
        QCOMPARE(Conversation::textOf(*c.lastUserMessage()), QStringLiteral("one"));

        // A stopped turn keeps what streamed so far.
        const auto chunks = gen.reply(echoVersion(), req);
        for (int i = 0; i < 4; ++i)
            c.applyChunk(chunks.at(i));
        c.applyChunk(QJsonObject{{"type", "abort"}});
        QCOMPARE(Conversation::textOf(*c.lastMessage()), QStringLiteral("You "));
        c.applyChunk(QJsonObject{{"type", "text-delta"}, {"id", chunks.at(2).value("id")}, {"delta", "late"}});
        QCOMPARE(Conversation::textOf(*c.lastMessage()), QStringLiteral("You ")); // message closed

        auto copy = Conversation::fromJson(c.toJson());
        QVERIFY(copy.ok());
        QCOMPARE(copy->messages(), c.messages());
        QCOMPARE(c.summary().size(), 2);
        QCOMPARE(c.summary().at(0).toObject().value("text").toString(), QStringLiteral("one"));
        QVERIFY(!Conversation::fromJson(QJsonValue("nope")).ok());
        QVERIFY(!Conversation::fromJson(QJsonArray{QJsonObject{{"id", "x"}}}).ok());
    }

    void builtinNextStreamsReasoning()
    {
        ReplyGenerator gen;
        const auto next = BuiltinVersions::find("chat-agent", "next");
        ReplyRequest req;
        req.userText = QStringLiteral("hello");
        QVERIFY(types(gen.reply(*next, req)).contains("reasoning-start"));
        const auto current = BuiltinVersions::find("chat-agent", "current");
        QVERIFY(!types(gen.reply(*current, req)).contains("reasoning-start"));
    }
};

QTEST_GUILESS_MAIN(TestAgentReply)
#include "tst_agentreply.moc"
