// libFuzzer target: public access tokens through both halves, the client's
// JwtClaims::decode (claims, no signature) and the server's
// TokenService::verify (HS256 signature, then claims). The first byte picks
// how the rest is used:
//   0  the token itself, any bytes;
//   1  `<header JSON>\n<payload JSON>\n<edits>`: signed with the server's key,
//      verified, then changed by the edits (3 bytes each: what, where, value)
//      and verified again;
//   2  `<header JSON>\n<payload JSON>\n<signature>`: not signed, the third
//      part taken as given (alg "none", empty and foreign signatures).
// Invariants: every token is answered with claims or an error value (401 on
// the server, a reason on the client), never a crash. A token the server
// accepts says alg HS256, carries exactly the signature the key gives its
// first two parts (so an edited token verifies only when unchanged), names
// this environment, is public and unexpired, and the client decodes it to
// the same subject.
#include "net/tokenmanager.h"
#include "server/tokenservice.h"
#include "server/wirejson.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QMessageAuthenticationCode>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace sessionscope;

namespace {

const QByteArray kSecret = QByteArrayLiteral("tr_dev_fuzz_0123456789abcdefghij");
const QString kEnvironment = QStringLiteral("env_fuzz");
constexpr auto kB64 = QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals;

void check(bool invariant)
{
    if (!invariant)
        abort();
}

bool verifies(const TokenService &service, const QByteArray &token)
{
    const Result<TokenClaims> verified = service.verify(token);
    const Result<JwtClaims> decoded = JwtClaims::decode(token);
    check(decoded.ok() || !decoded.error().message.isEmpty());
    (void)TokenService::looksLikePublicToken(token);
    if (!verified) {
        check(verified.error().httpStatus == 401 && !verified.error().message.isEmpty());
        return false;
    }
    const QList<QByteArray> parts = token.split('.');
    check(parts.size() == 3);
    const QByteArray mac = QMessageAuthenticationCode::hash(parts[0] + '.' + parts[1], kSecret,
                                                            QCryptographicHash::Sha256);
    check(parts[2] == mac.toBase64(kB64));
    const auto header = wirejson::parse(
        QByteArray::fromBase64(parts[0], QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    check(header && header->is_object() && header->value("alg", Json()) == "HS256");
    check(verified->subject == kEnvironment);
    check(verified->expiresAt == 0 || verified->expiresAt > QDateTime::currentSecsSinceEpoch() - 5);
    check(TokenService::looksLikePublicToken(token));
    if (decoded)
        check(decoded->subject == kEnvironment && decoded->isPublic);
    return true;
}

// Three lines: header, payload, rest (the rest may hold newlines).
void splitInput(QByteArrayView input, QByteArray &header, QByteArray &payload, QByteArray &rest)
{
    const qsizetype first = input.indexOf('\n');
    header = input.first(first < 0 ? input.size() : first).toByteArray();
    if (first < 0)
        return;
    const QByteArrayView after = input.sliced(first + 1);
    const qsizetype second = after.indexOf('\n');
    payload = after.first(second < 0 ? after.size() : second).toByteArray();
    if (second >= 0)
        rest = after.sliced(second + 1).toByteArray();
}

QByteArray edited(QByteArray token, QByteArrayView edits)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (qsizetype i = 0; i + 2 < edits.size(); i += 3) {
        const auto what = uchar(edits[i]);
        const qsizetype at = token.isEmpty() ? 0 : qsizetype(uchar(edits[i + 1])) * 257 % token.size();
        const char value = edits[i + 2];
        switch (what % 5) {
        case 0: // a character of the same alphabet: the malleable case
            if (!token.isEmpty())
                token[at] = alphabet[uchar(value) % 64];
            break;
        case 1:
            if (!token.isEmpty())
                token[at] = value;
            break;
        case 2:
            if (!token.isEmpty())
                token.remove(at, 1);
            break;
        case 3:
            token.insert(at, value);
            break;
        default: // from the end, where the signature's spare bits are
            if (!token.isEmpty())
                token[token.size() - 1 - (at % std::min<qsizetype>(token.size(), 4))] =
                    alphabet[uchar(value) % 64];
            break;
        }
    }
    return token;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const TokenService service(kSecret, kEnvironment);
    const QByteArrayView rest(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    switch (data[0] % 3) {
    case 0:
        verifies(service, rest.toByteArray());
        break;
    case 1: {
        QByteArray header, payload, edits;
        splitInput(rest, header, payload, edits);
        const QByteArray token = TokenService::sign(header, payload, kSecret);
        verifies(service, token);
        const QByteArray changed = edited(token, edits);
        if (verifies(service, changed))
            check(changed == token);
        break;
    }
    default: {
        QByteArray header, payload, signature;
        splitInput(rest, header, payload, signature);
        const QByteArray token = header.toBase64(kB64) + '.' + payload.toBase64(kB64) + '.' + signature;
        verifies(service, token);
        break;
    }
    }
    return 0;
}
