#include "models/clientdataprovenancemodel.h"

#include "models/conversationmodel.h"

#include <QBrush>
#include <QColor>
#include <QJsonArray>
#include <QJsonDocument>

namespace sessionscope {

namespace {

QStringList keysOf(const QJsonValue &value)
{
    return value.isObject() ? value.toObject().keys() : QStringList();
}

QJsonValue toQJson(const nlohmann::json &value)
{
    if (value.is_null() || value.is_discarded())
        return QJsonValue::Null;
    const std::string text = nlohmann::json::array({value}).dump();
    return QJsonDocument::fromJson(QByteArray::fromStdString(text)).array().first();
}

} // namespace

ClientDataProvenanceModel::ClientDataProvenanceModel(QObject *parent) : KeyedRowsModel(parent) {}

void ClientDataProvenanceModel::setEdgeNamespace(const QString &key)
{
    if (key == m_namespace)
        return;
    m_namespace = key;
    if (!rows().isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
}

void ClientDataProvenanceModel::addSent(qint64 inSeq, const QJsonValue &clientData)
{
    if (inSeq < 0)
        return;
    turnAt(inSeq).sent = clientData;
    publish();
}

void ClientDataProvenanceModel::setReceived(qint64 inSeq, const QJsonValue &clientData)
{
    if (inSeq < 0)
        return;
    turnAt(inSeq).received = clientData;
    publish();
}

ClientDataTurn &ClientDataProvenanceModel::turnAt(qint64 inSeq)
{
    ClientDataTurn &turn = m_turns[inSeq];
    turn.inSeq = inSeq;
    return turn;
}

void ClientDataProvenanceModel::followConversation(ConversationModel *conversation)
{
    if (m_conversation)
        disconnect(m_conversation, nullptr, this, nullptr);
    m_conversation = conversation;
    if (!conversation)
        return;
    for (auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
        connect(conversation, signal, this, &ClientDataProvenanceModel::takeFromConversation);
    connect(conversation, &QAbstractItemModel::dataChanged, this, &ClientDataProvenanceModel::takeFromConversation);
    connect(conversation, &QAbstractItemModel::modelReset, this, &ClientDataProvenanceModel::takeFromConversation);
    takeFromConversation();
}

void ClientDataProvenanceModel::takeFromConversation()
{
    if (!m_conversation)
        return;
    bool changed = false;
    for (const UIMessage &message : m_conversation->messages()) {
        if (message.role != MessageRole::User || message.channel != Channel::In || message.firstSeq < 0)
            continue;
        const QJsonValue received = message.clientData.is_null() ? QJsonValue(QJsonValue::Null)
                                                                 : toQJson(message.clientData);
        ClientDataTurn &turn = turnAt(message.firstSeq);
        if (turn.received == received)
            continue;
        turn.received = received;
        changed = true;
    }
    if (changed)
        publish();
}

void ClientDataProvenanceModel::clear()
{
    m_turns.clear();
    clearRows();
}

void ClientDataProvenanceModel::publish()
{
    syncRows(m_turns.values());
}

ClientDataProvenanceModel::EdgeVerdict ClientDataProvenanceModel::verdict(const ClientDataTurn &turn) const
{
    if (m_namespace.isEmpty())
        return EdgeVerdict::NoNamespace;
    if (turn.received.isUndefined())
        return EdgeVerdict::Pending;
    const QJsonObject received = turn.received.toObject();
    if (!received.contains(m_namespace))
        return EdgeVerdict::Missing;
    const QJsonObject sent = turn.sent.toObject();
    if (!sent.contains(m_namespace))
        return EdgeVerdict::EdgeWrote;
    return sent.value(m_namespace) == received.value(m_namespace) ? EdgeVerdict::PassedThrough
                                                                  : EdgeVerdict::ForgedReplaced;
}

QString ClientDataProvenanceModel::verdictText(EdgeVerdict verdict, const QString &key)
{
    switch (verdict) {
    case EdgeVerdict::NoNamespace:
        return tr("no edge-owned key");
    case EdgeVerdict::Pending:
        return tr("waiting for the .in record");
    case EdgeVerdict::EdgeWrote:
        return tr("%1 written by the edge").arg(key);
    case EdgeVerdict::ForgedReplaced:
        return tr("%1 sent by the console was replaced by the edge").arg(key);
    case EdgeVerdict::Missing:
        return tr("%1 missing: the request bypassed the edge").arg(key);
    case EdgeVerdict::PassedThrough:
        return tr("%1 arrived as the console sent it: no edge rewrote it").arg(key);
    }
    return {};
}

QString ClientDataProvenanceModel::keysText(const QJsonValue &value) const
{
    if (value.isUndefined())
        return tr("—");
    if (!value.isObject())
        return value.isNull() ? tr("(none)") : tr("(not an object)");
    QStringList keys = keysOf(value);
    for (QString &k : keys) {
        if (!m_namespace.isEmpty() && k == m_namespace)
            k += tr(" (edge-owned)");
    }
    return keys.isEmpty() ? tr("(empty)") : keys.join(QStringLiteral(", "));
}

int ClientDataProvenanceModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ClientDataProvenanceModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ClientDataTurn &turn = rows().at(index.row());
    const EdgeVerdict v = verdict(turn);
    const bool problem = v == EdgeVerdict::Missing || v == EdgeVerdict::PassedThrough;
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case InSeqColumn:
            return QStringLiteral("#%1").arg(turn.inSeq);
        case SentColumn:
            return turn.sent.isUndefined() ? tr("(not from this console)") : keysText(turn.sent);
        case ReceivedColumn:
            return keysText(turn.received);
        case EdgeColumn:
            return verdictText(v, m_namespace);
        }
        return {};
    case Qt::ToolTipRole: {
        const auto json = [](const QJsonValue &value) {
            if (value.isUndefined())
                return tr("(unknown)");
            return QString::fromUtf8(QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact)).mid(1).chopped(1);
        };
        return tr("sent: %1\nreceived: %2").arg(json(turn.sent), json(turn.received));
    }
    case Qt::ForegroundRole:
        if (problem && index.column() == EdgeColumn)
            return QBrush(QColor(0xc6, 0x28, 0x28));
        return {};
    case InSeqRole:
        return turn.inSeq;
    case SentKeysRole:
        return keysOf(turn.sent);
    case ReceivedKeysRole:
        return keysOf(turn.received);
    case EdgeVerdictRole:
        return int(v);
    case IsProblemRole:
        return problem;
    }
    return {};
}

QVariant ClientDataProvenanceModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case InSeqColumn:
        return tr(".in");
    case SentColumn:
        return tr("Console sent");
    case ReceivedColumn:
        return tr("Agent received");
    case EdgeColumn:
        return tr("Edge-owned key");
    }
    return {};
}

QHash<int, QByteArray> ClientDataProvenanceModel::roleNames() const
{
    QHash<int, QByteArray> names = KeyedRowsModel::roleNames();
    names.insert(InSeqRole, "inSeq");
    names.insert(SentKeysRole, "sentKeys");
    names.insert(ReceivedKeysRole, "receivedKeys");
    names.insert(EdgeVerdictRole, "edgeVerdict");
    names.insert(IsProblemRole, "isProblem");
    return names;
}

} // namespace sessionscope
