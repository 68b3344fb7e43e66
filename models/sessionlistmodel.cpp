#include "models/sessionlistmodel.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace sessionscope {

namespace {

QString shownDate(const QDateTime &at)
{
    return at.isValid() ? at.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QString();
}

QString metadataText(const QJsonValue &metadata)
{
    if (metadata.isObject())
        return QString::fromUtf8(QJsonDocument(metadata.toObject()).toJson(QJsonDocument::Compact));
    if (metadata.isArray())
        return QString::fromUtf8(QJsonDocument(metadata.toArray()).toJson(QJsonDocument::Compact));
    return metadata.isNull() || metadata.isUndefined() ? QString() : metadata.toVariant().toString();
}

} // namespace

SessionListModel::SessionListModel(QObject *parent) : QAbstractTableModel(parent) {}

int SessionListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_sessions.size());
}

int SessionListModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SessionListModel::displayData(const SessionItem &s, int column) const
{
    switch (column) {
    case IdColumn:
        return s.id;
    case ExternalIdColumn:
        return s.externalId;
    case TaskColumn:
        return s.taskIdentifier;
    case StatusColumn:
        return s.status();
    case CurrentRunColumn:
        return s.currentRunId;
    case VersionColumn:
        return m_versionByRun.value(s.currentRunId);
    case TagsColumn:
        return s.tags.join(QStringLiteral(", "));
    case CreatedColumn:
        return shownDate(s.createdAt);
    case UpdatedColumn:
        return shownDate(s.updatedAt);
    }
    return {};
}

QVariant SessionListModel::sortData(const SessionItem &s, int column) const
{
    switch (column) {
    case CreatedColumn:
        return s.createdAt;
    case UpdatedColumn:
        return s.updatedAt;
    default:
        return displayData(s, column);
    }
}

QVariant SessionListModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const SessionItem &s = m_sessions.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return displayData(s, index.column());
    case Qt::ToolTipRole:
        if (s.isClosed() && !s.closedReason.isEmpty())
            return tr("Closed %1: %2").arg(shownDate(s.closedAt), s.closedReason);
        return {};
    case SortRole:
        return sortData(s, index.column());
    case SessionIdRole:
        return s.id;
    case ExternalIdRole:
        return s.externalId;
    case TypeRole:
        return s.type;
    case TaskIdentifierRole:
        return s.taskIdentifier;
    case StatusRole:
        return s.status();
    case CurrentRunIdRole:
        return s.currentRunId;
    case VersionRole:
        return m_versionByRun.value(s.currentRunId);
    case TagsRole:
        return s.tags;
    case CreatedAtRole:
        return s.createdAt;
    case UpdatedAtRole:
        return s.updatedAt;
    case ClosedAtRole:
        return s.closedAt;
    case ClosedReasonRole:
        return s.closedReason;
    case ExpiresAtRole:
        return s.expiresAt;
    case MetadataRole:
        return metadataText(s.metadata);
    case SearchTextRole:
        return QStringList{s.id, s.externalId, s.taskIdentifier, s.status(), s.currentRunId,
                           m_versionByRun.value(s.currentRunId), s.tags.join(u' ')}
            .join(u' ');
    }
    return {};
}

QVariant SessionListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case IdColumn:
        return tr("Session");
    case ExternalIdColumn:
        return tr("External id");
    case TaskColumn:
        return tr("Task");
    case StatusColumn:
        return tr("Status");
    case CurrentRunColumn:
        return tr("Current run");
    case VersionColumn:
        return tr("Version");
    case TagsColumn:
        return tr("Tags");
    case CreatedColumn:
        return tr("Created");
    case UpdatedColumn:
        return tr("Updated");
    }
    return {};
}

QHash<int, QByteArray> SessionListModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    names.insert(SessionIdRole, "sessionId");
    names.insert(ExternalIdRole, "externalId");
    names.insert(TypeRole, "type");
    names.insert(TaskIdentifierRole, "taskIdentifier");
    names.insert(StatusRole, "status");
    names.insert(CurrentRunIdRole, "currentRunId");
    names.insert(VersionRole, "version");
    names.insert(TagsRole, "tags");
    names.insert(CreatedAtRole, "createdAt");
    names.insert(UpdatedAtRole, "updatedAt");
    names.insert(ClosedAtRole, "closedAt");
    names.insert(ClosedReasonRole, "closedReason");
    names.insert(ExpiresAtRole, "expiresAt");
    names.insert(MetadataRole, "metadata");
    names.insert(SearchTextRole, "searchText");
    names.insert(SortRole, "sort");
    return names;
}

bool SessionListModel::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && m_client && !m_loading && !m_nextCursor.isEmpty();
}

void SessionListModel::fetchMore(const QModelIndex &parent)
{
    if (canFetchMore(parent))
        load(false);
}

void SessionListModel::setClient(SessionsClient *client)
{
    if (m_client)
        disconnect(m_client, nullptr, this, nullptr);
    m_client = client;
    ++m_generation; // answers to the old client no longer belong here
    setLoading(false);
    if (!client)
        return;
    connect(client, &SessionsClient::sessionSeen, this, &SessionListModel::updateSession);
    connect(client, &SessionsClient::runSeen, this,
            [this](const RunDetails &run) { setRunVersion(run.id, run.version); });
}

Result<void> SessionListModel::setFilter(const SessionListFilter &filter)
{
    SessionListFilter next = filter;
    next.after.clear();
    next.before.clear();
    if (auto valid = next.validate(); !valid)
        return valid;
    m_filter = next;
    refresh();
    return {};
}

void SessionListModel::refresh()
{
    if (m_client)
        load(true);
}

void SessionListModel::load(bool firstPage)
{
    SessionListFilter query = m_filter;
    if (!firstPage)
        query.after = m_nextCursor;
    const quint64 generation = ++m_generation;
    setLoading(true);
    m_client->listSessions(query, this, [this, generation, firstPage](Result<SessionListPage> page) {
        if (generation != m_generation)
            return; // the filter changed or a refresh started meanwhile
        setLoading(false);
        if (!page) {
            Q_EMIT loadFailed(page.error());
            return;
        }
        if (firstPage)
            resetWithPage(*page);
        else
            appendPage(*page);
        resolveVersions(page->sessions);
    });
}

void SessionListModel::appendPage(const SessionListPage &page)
{
    m_nextCursor = page.nextCursor;
    QList<SessionItem> fresh;
    for (const SessionItem &s : page.sessions) {
        if (m_rowById.contains(s.id))
            updateSession(s);
        else if (!std::any_of(fresh.cbegin(), fresh.cend(), [&s](const SessionItem &f) { return f.id == s.id; }))
            fresh.append(s);
    }
    if (!fresh.isEmpty()) {
        const int first = int(m_sessions.size());
        beginInsertRows(QModelIndex(), first, first + int(fresh.size()) - 1);
        for (const SessionItem &s : std::as_const(fresh)) {
            m_rowById.insert(s.id, int(m_sessions.size()));
            m_sessions.append(s);
        }
        endInsertRows();
    }
    Q_EMIT pageLoaded(int(page.sessions.size()));
}

void SessionListModel::resetWithPage(const SessionListPage &page)
{
    beginResetModel();
    m_sessions.clear();
    m_rowById.clear();
    for (const SessionItem &s : page.sessions) {
        if (m_rowById.contains(s.id))
            continue;
        m_rowById.insert(s.id, int(m_sessions.size()));
        m_sessions.append(s);
    }
    m_nextCursor = page.nextCursor;
    endResetModel();
    Q_EMIT pageLoaded(int(page.sessions.size()));
}

void SessionListModel::updateSession(const SessionItem &session)
{
    const int row = m_rowById.value(session.id, -1);
    if (row < 0)
        return; // not on a loaded page: a refresh will place it
    m_sessions[row] = session;
    emitRowChanged(row);
    resolveVersions({session});
}

void SessionListModel::setRunVersion(const QString &runId, const QString &version)
{
    if (runId.isEmpty() || m_versionByRun.value(runId) == version)
        return;
    m_versionByRun.insert(runId, version);
    for (int row = 0; row < m_sessions.size(); ++row) {
        if (m_sessions[row].currentRunId == runId)
            emitRowChanged(row);
    }
}

void SessionListModel::resolveVersions(const QList<SessionItem> &sessions)
{
    if (!m_resolveVersions || !m_client)
        return;
    for (const SessionItem &s : sessions) {
        const QString &run = s.currentRunId;
        if (run.isEmpty() || m_versionByRun.contains(run) || m_versionAsked.contains(run))
            continue;
        m_versionAsked.insert(run);
        // The answer arrives through SessionsClient::runSeen.
        m_client->retrieveRun(run, this, [this, run](Result<RunDetails> details) {
            if (!details) {
                m_versionAsked.remove(run); // ask again with the next page or refresh
                Q_EMIT loadFailed(details.error());
            }
        });
    }
}

void SessionListModel::emitRowChanged(int row)
{
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

int SessionListModel::rowForSession(const QString &idOrExternalId) const
{
    if (const int row = m_rowById.value(idOrExternalId, -1); row >= 0)
        return row;
    for (int row = 0; row < m_sessions.size(); ++row) {
        if (!m_sessions[row].externalId.isEmpty() && m_sessions[row].externalId == idOrExternalId)
            return row;
    }
    return -1;
}

void SessionListModel::clear()
{
    ++m_generation;
    setLoading(false);
    beginResetModel();
    m_sessions.clear();
    m_rowById.clear();
    m_nextCursor.clear();
    endResetModel();
}

void SessionListModel::setLoading(bool loading)
{
    if (loading == m_loading)
        return;
    m_loading = loading;
    Q_EMIT loadingChanged(loading);
}

} // namespace sessionscope
