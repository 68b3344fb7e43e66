#pragma once

#include "models/keyedrowsmodel.h"

#include <QJsonObject>
#include <QJsonValue>
#include <QMap>
#include <QPointer>

namespace sessionscope {

class ConversationModel;

// One turn's clientData as the console sent it and as the agent received it
// (the `.in` record's payload.metadata, after any edge proxy rewrote it).
struct ClientDataTurn
{
    qint64 inSeq = -1;
    QJsonValue sent = QJsonValue::Undefined;     // Undefined: not sent from this console
    QJsonValue received = QJsonValue::Undefined; // Undefined: the record has not arrived yet

    friend bool operator==(const ClientDataTurn &, const ClientDataTurn &) = default;
};

// Per turn: which clientData keys the console sent and which the agent
// received, and what happened to the edge-owned key (the trusted-edge
// pattern: a proxy deletes the client's value under one namespace and writes
// its own). Rows are in `.in` order; sends come from the composer, received
// values from the conversation's user messages.
class ClientDataProvenanceModel : public KeyedRowsModel<ClientDataTurn>
{
    Q_OBJECT

public:
    enum Column { InSeqColumn, SentColumn, ReceivedColumn, EdgeColumn, ColumnCount };
    enum Role {
        InSeqRole = Qt::UserRole + 1,
        SentKeysRole,     // QStringList
        ReceivedKeysRole, // QStringList
        EdgeVerdictRole,  // EdgeVerdict as int
        IsProblemRole,    // bool: the edge key is missing or the client's value got through
    };
    // What happened to the namespace key between the console and the agent.
    enum class EdgeVerdict {
        NoNamespace,   // no edge-owned key configured
        Pending,       // the `.in` record has not arrived
        EdgeWrote,     // the agent got a value the console did not send
        ForgedReplaced,// the console sent a value; the agent got a different one
        Missing,       // the agent got no value: the request bypassed the edge
        PassedThrough, // the agent got exactly the console's value: no edge rewrote it
    };
    Q_ENUM(EdgeVerdict)

    explicit ClientDataProvenanceModel(QObject *parent = nullptr);

    void setEdgeNamespace(const QString &key);
    QString edgeNamespace() const { return m_namespace; }

    void addSent(qint64 inSeq, const QJsonValue &clientData);
    void setReceived(qint64 inSeq, const QJsonValue &clientData);
    // Takes the received values from the user messages of `conversation`, now
    // and whenever it changes.
    void followConversation(ConversationModel *conversation);
    void clear();

    EdgeVerdict verdict(const ClientDataTurn &turn) const;
    static QString verdictText(EdgeVerdict verdict, const QString &key);

    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

protected:
    QString rowKey(const ClientDataTurn &row) const override { return QString::number(row.inSeq); }

private:
    // The turn of `inSeq`, created when new.
    ClientDataTurn &turnAt(qint64 inSeq);
    void publish();
    void takeFromConversation();
    QString keysText(const QJsonValue &value) const;

    QMap<qint64, ClientDataTurn> m_turns;
    QString m_namespace;
    QPointer<ConversationModel> m_conversation;
};

} // namespace sessionscope
