#include "app/cli/transcriptcommand.h"

#include "app/cli/capturereader.h"
#include "app/cli/cliverb.h"
#include "app/cli/jsonlinewriter.h"
#include "net/chunkbody.h"
#include "net/conversationreducer.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace sessionscope {

namespace {

using ojson = nlohmann::ordered_json;

const char TranscriptHelp[] =
    "Usage: sessionscope-cli transcript [--channel in|out] FILE|-\n"
    "\n"
    "Rebuilds the conversation an SSE capture of a session stream holds, the way\n"
    "the AI SDK's useChat does, and prints one JSON object:\n"
    "  {\"lastSeq\":N|null,\"records\":N,\"commands\":N,\n"
    "   \"controls\":[{\"seq\":N,\"subtype\":\"...\",\"sessionInEventId\":\"...\"|null}],\n"
    "   \"messages\":[{\"id\":\"...\",\"role\":\"assistant|user\",\"text\":\"...\",\"reasoning\":\"...\",\n"
    "                 \"tools\":[{\"toolCallId\":\"...\",\"toolName\":\"...\",\"input\":...,\"output\":...}]}]}\n"
    "A message or tool gets \"errorText\" when the stream reported an error for it.\n"
    "\n"
    "Options:\n"
    "  --channel in|out  which stream the capture is from; by default each data\n"
    "                    record's body shape tells (.in stores a string of JSON)\n"
    "\n"
    "Errors go to stderr as {\"error\":\"...\"} lines.\n"
    "Exit status: 0 all decoded, 1 some event or record failed, 2 usage error.\n";

std::string utf8(const QString &text)
{
    return text.toStdString();
}

ojson messageJson(const UIMessage &message)
{
    ojson tools = ojson::array();
    for (const MessagePart &part : message.parts) {
        if (part.type != MessagePart::Type::Tool)
            continue;
        ojson tool = {{"toolCallId", utf8(part.tool.toolCallId)},
                      {"toolName", utf8(part.tool.toolName)},
                      {"input", ojson(part.tool.input)},
                      {"output", ojson(part.tool.output)}};
        if (!part.tool.errorText.isEmpty())
            tool["errorText"] = utf8(part.tool.errorText);
        tools.push_back(std::move(tool));
    }
    ojson out = {{"id", utf8(message.id)},
                 {"role", utf8(roleName(message.role))},
                 {"text", utf8(message.text())},
                 {"reasoning", utf8(message.reasoning())},
                 {"tools", std::move(tools)}};
    if (!message.errorText.isEmpty())
        out["errorText"] = utf8(message.errorText);
    return out;
}

} // namespace

std::string transcriptText(const ConversationReducer &reducer, qint64 lastSeq, qint64 records, qint64 commands)
{
    ojson controls = ojson::array();
    for (const TimelineEntry &entry : reducer.timeline()) {
        if (entry.kind != TimelineEntry::Kind::TurnComplete &&
            entry.kind != TimelineEntry::Kind::UpgradeRequired && entry.kind != TimelineEntry::Kind::Control)
            continue;
        controls.push_back({{"seq", entry.seq},
                            {"subtype", utf8(entry.subtype)},
                            {"sessionInEventId", entry.sessionInEventId ? ojson(utf8(*entry.sessionInEventId))
                                                                        : ojson(nullptr)}});
    }
    ojson messages = ojson::array();
    for (const UIMessage &message : reducer.messages())
        messages.push_back(messageJson(message));

    const ojson transcript = {{"lastSeq", lastSeq >= 0 ? ojson(lastSeq) : ojson(nullptr)},
                              {"records", records},
                              {"commands", commands},
                              {"controls", std::move(controls)},
                              {"messages", std::move(messages)}};
    // The same layout as the fixtures' .expect.json files, so they diff cleanly.
    return transcript.dump(1, ' ', false, ojson::error_handler_t::replace);
}

int runTranscriptCommand(const QStringList &args)
{
    CaptureArgs parsed;
    CaptureReader reader;
    if (const auto done = startCaptureVerb("transcript", TranscriptHelp, true, args, parsed, reader))
        return *done;

    JsonLineWriter err(stderr);

    const std::optional<Channel> forced =
        parsed.channel ? std::optional(*parsed.channel == u"in" ? Channel::In : Channel::Out)
                        : std::nullopt;
    Channel channel = forced.value_or(Channel::Out);
    ConversationReducer reducer;
    qint64 commands = 0;
    bool failed = false;
    const auto onError = [&](const Error &error) {
        err.writeError(error);
        failed = true;
    };
    const auto onEvent = [&](S2Event &event) {
        for (const StreamRecord &record : std::as_const(event.records)) {
            if (record.kind == RecordKind::Command)
                ++commands;
            if (record.kind != RecordKind::Data) {
                reducer.apply(record, channel);
                continue;
            }
            // Decoded here so the body's shape can pick the channel.
            const Result<DecodedBody> body = decodeBody(record);
            if (!body) {
                onError(body.error());
                continue;
            }
            if (!forced)
                channel = body->channel();
            reducer.apply(record, channel, *body);
        }
        for (const Error &error : reducer.takeErrors())
            onError(error);
    };
    if (const auto result = reader.run(onEvent, onError); !result)
        onError(result.error());

    const std::string text = transcriptText(reducer, reader.decoder().lastSeq(), reader.decoder().recordCount(), commands);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    return failed ? ExitInputErrors : ExitOk;
}

} // namespace sessionscope
