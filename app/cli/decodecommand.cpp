#include "app/cli/decodecommand.h"

#include "app/cli/capturereader.h"
#include "app/cli/cliverb.h"
#include "app/cli/jsonlinewriter.h"
#include "net/chunkbody.h"

#include <cstdio>

namespace sessionscope {

namespace {

const char DecodeHelp[] =
    "Usage: sessionscope-cli decode FILE|-\n"
    "\n"
    "Decodes an SSE capture of a session's .out or .in stream (S2 batch framing)\n"
    "and prints one JSON line per record:\n"
    "  {\"seq\":N,\"kind\":\"data\",\"timestamp\":T,\"chunkType\":\"...\",\"partId\":\"...\"}\n"
    "  {\"seq\":N,\"kind\":\"control\",\"timestamp\":T,\"subtype\":\"...\",\"sessionInEventId\":\"...\"}\n"
    "  {\"seq\":N,\"kind\":\"command\",\"timestamp\":T,\"op\":\"...\"}\n"
    "For .in records chunkType is the ChatInputChunk kind and \"channel\":\"in\" is added.\n"
    "Errors go to stderr as {\"error\":\"...\",\"seq\":N} lines; decoding goes on.\n"
    "The input is read in 64 KiB chunks; use - for stdin.\n"
    "\n"
    "Exit status: 0 all decoded, 1 some event or record failed, 2 usage error.\n";

} // namespace

std::optional<Error> writeRecordLine(JsonLineWriter &out, const StreamRecord &record)
{
    std::optional<Error> error;
    out.field("seq", record.seqNum)
        .field("kind", QByteArrayView(recordKindName(record.kind)))
        .field("timestamp", record.timestamp);
    switch (record.kind) {
    case RecordKind::Data: {
        const Result<BodyInfo> body = decodeBodyInfo(record);
        if (body) {
            out.field("chunkType", body->chunkType);
            if (!body->partId.isEmpty())
                out.field("partId", body->partId);
            if (body->dataWasString)
                out.field("channel", QByteArrayView(channelName(Channel::In)));
        } else {
            error = body.error();
        }
        break;
    }
    case RecordKind::Control:
        out.field("subtype", record.subtype());
        if (const auto inSeq = sessionInEventId(record))
            out.field("sessionInEventId", *inSeq);
        break;
    case RecordKind::Command:
        out.field("op", record.subtype());
        break;
    }
    out.endLine();
    return error;
}

int runDecodeCommand(const QStringList &args)
{
    CaptureArgs parsed;
    CaptureReader reader;
    if (const auto done = startCaptureVerb("decode", DecodeHelp, false, args, parsed, reader))
        return *done;

    JsonLineWriter out(stdout);
    JsonLineWriter err(stderr);
    bool failed = false;
    const auto onError = [&](const Error &error) {
        out.flush(); // keep stdout and stderr in stream order on a terminal
        err.writeError(error);
        failed = true;
    };
    const auto onEvent = [&](S2Event &event) {
        for (const StreamRecord &record : std::as_const(event.records)) {
            if (const auto error = writeRecordLine(out, record))
                onError(*error);
        }
        if (event.type == S2Event::Type::Other) {
            out.flush();
            err.writeWarning(QStringLiteral("skipped an SSE event of type \"%1\"")
                                 .arg(QString::fromUtf8(event.eventType)));
        }
    };
    const auto result = reader.run(onEvent, onError, [&] { out.flush(); });
    if (!result)
        onError(result.error());
    out.flush();
    return failed ? ExitInputErrors : ExitOk;
}

} // namespace sessionscope
