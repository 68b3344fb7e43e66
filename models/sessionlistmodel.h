#pragma once

#include "net/result.h"
#include "net/sessionsclient.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QPointer>
#include <QSet>

namespace sessionscope {

// The session browser: pages of GET /api/v1/sessions with the server's
// filters, fetched as the view scrolls (canFetchMore/fetchMore follow the
// `next` cursor). Text search and client-side narrowing go through a
// QSortFilterProxyModel with filterRole SearchTextRole and sortRole SortRole.
//
// Columns (DisplayRole):
//   IdColumn, ExternalIdColumn, TaskColumn,
//   StatusColumn      ACTIVE / CLOSED / EXPIRED
//   CurrentRunColumn
//   VersionColumn     the current run's version, looked up once per run
//   TagsColumn        comma-separated
//   CreatedColumn, UpdatedColumn   local "yyyy-MM-dd HH:mm:ss"
//
// Without a client the model is fed with appendPage() / resetWithPage().
class SessionListModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column {
        IdColumn,
        ExternalIdColumn,
        TaskColumn,
        StatusColumn,
        CurrentRunColumn,
        VersionColumn,
        TagsColumn,
        CreatedColumn,
        UpdatedColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role {
        SessionIdRole = Qt::UserRole + 1,
        ExternalIdRole,
        TypeRole,
        TaskIdentifierRole,
        StatusRole,
        CurrentRunIdRole,
        VersionRole,
        TagsRole,       // QStringList
        CreatedAtRole,  // QDateTime (UTC)
        UpdatedAtRole,
        ClosedAtRole,
        ClosedReasonRole,
        ExpiresAtRole,
        MetadataRole,   // JSON text
        SearchTextRole, // id, externalId, task, status, run, version and tags in one string
        SortRole,       // the column's raw value
    };
    Q_ENUM(Role)

    explicit SessionListModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;
    bool canFetchMore(const QModelIndex &parent) const override;
    void fetchMore(const QModelIndex &parent) override;

    // Sessions seen by the client elsewhere (retrieve, update, close) update
    // their rows here too.
    void setClient(SessionsClient *client);
    SessionsClient *client() const { return m_client; }

    // The server-side filter; its cursors are ignored (the model pages
    // itself). A valid filter replaces the rows with its first page.
    Result<void> setFilter(const SessionListFilter &filter);
    const SessionListFilter &filter() const { return m_filter; }
    // Reloads the first page with the current filter.
    void refresh();

    // One beginInsertRows per page; sessions already listed are updated in
    // place instead of repeated.
    void appendPage(const SessionListPage &page);
    void resetWithPage(const SessionListPage &page);
    void updateSession(const SessionItem &session);
    void setRunVersion(const QString &runId, const QString &version);
    // Look up the version of each listed current run (default on).
    void setResolveVersions(bool resolve) { m_resolveVersions = resolve; }
    void clear();

    const SessionItem &session(int row) const { return m_sessions.at(row); }
    int rowForSession(const QString &idOrExternalId) const;
    QString nextCursor() const { return m_nextCursor; }
    bool isLoading() const { return m_loading; }

Q_SIGNALS:
    void loadingChanged(bool loading);
    void loadFailed(const sessionscope::Error &error);
    void pageLoaded(int sessions);

private:
    void load(bool firstPage);
    void setLoading(bool loading);
    void resolveVersions(const QList<SessionItem> &sessions);
    void emitRowChanged(int row);
    QVariant displayData(const SessionItem &s, int column) const;
    QVariant sortData(const SessionItem &s, int column) const;

    QList<SessionItem> m_sessions;
    QHash<QString, int> m_rowById;
    QHash<QString, QString> m_versionByRun;
    QSet<QString> m_versionAsked;
    QPointer<SessionsClient> m_client;
    SessionListFilter m_filter;
    QString m_nextCursor;
    quint64 m_generation = 0;
    bool m_loading = false;
    bool m_resolveVersions = true;
};

} // namespace sessionscope
