#pragma once

#include "server/wirejson.h"

#include <QByteArray>
#include <QString>

namespace sessionscope {

// The two request bodies that carry clientData, and how the edge proxy
// rewrites them: the client's value under the namespace key is deleted and the
// edge's value written in its place (protocol.md, "Trusted edge signals").
//
// A body is read the way the upstream's JSON.parse would read it: invalid
// UTF-8 replaced, a lone surrogate escape taken as U+FFFD. What still does not
// parse goes through untouched, so the upstream gives its usual answer, unless
// it names the namespace key somewhere: then no parser downstream may be
// trusted to find nothing there, and the proxy refuses it itself (400). A body
// with a Content-Encoding the proxy cannot read is refused too (415).
class EdgeRewriter
{
public:
    enum class Route : quint8 {
        None,
        CreateSession, // POST /api/v1/sessions: triggerConfig.basePayload.metadata
        AppendIn,      // POST /realtime/v1/sessions/{id}/in/append, kind "message": payload.metadata
    };

    struct Outcome
    {
        enum class Action : quint8 { Forward, Rewritten, Refuse };
        Action action = Action::Forward;
        QByteArray body;         // Rewritten: the new body
        int status = 0;          // Refuse: the HTTP status
        QString error;           // Refuse: why
        bool droppedClientValue = false; // the client had put something under the key
    };

    explicit EdgeRewriter(QString namespaceKey);

    const QString &namespaceKey() const { return m_key; }

    // Which rewrite a request gets. The path is matched as loosely as any
    // upstream router might read it (percent-decoded, case-insensitive, empty
    // and dot segments resolved), so no spelling of a route slips past.
    static Route routeOf(QByteArrayView method, QByteArrayView encodedPath);

    // `contentEncoding` is the request's Content-Encoding header (may be empty).
    Outcome rewrite(Route route, const QByteArray &body, QByteArrayView contentEncoding,
                    const Json &edgeValue) const;

private:
    QString m_key;
    QByteArray m_keyUtf8;
};

} // namespace sessionscope
