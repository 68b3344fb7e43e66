#include "ui/sessionspanel.h"

#include "models/sessionlistmodel.h"
#include "net/sessionsclient.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace sessionscope {

SessionsPanel::SessionsPanel(QWidget *parent)
    : QWidget(parent), m_model(new SessionListModel(this)), m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);

    auto *filters = new QGridLayout;
    filters->setHorizontalSpacing(6);
    m_status = new QComboBox(this);
    m_status->addItems({tr("any status"), QStringLiteral("ACTIVE"), QStringLiteral("CLOSED"), QStringLiteral("EXPIRED")});
    m_period = new QComboBox(this);
    m_period->addItem(tr("any time"), QString());
    m_period->addItem(tr("last hour"), QStringLiteral("1h"));
    m_period->addItem(tr("last day"), QStringLiteral("1d"));
    m_period->addItem(tr("last 7 days"), QStringLiteral("7d"));
    m_period->addItem(tr("last 30 days"), QStringLiteral("30d"));
    m_type = new QLineEdit(this);
    m_type->setPlaceholderText(tr("type"));
    m_task = new QLineEdit(this);
    m_task->setPlaceholderText(tr("task"));
    m_tag = new QLineEdit(this);
    m_tag->setPlaceholderText(tr("tag"));
    m_externalId = new QLineEdit(this);
    m_externalId->setPlaceholderText(tr("externalId"));
    auto *apply = new QPushButton(tr("Apply"), this);
    filters->addWidget(m_status, 0, 0);
    filters->addWidget(m_period, 0, 1);
    filters->addWidget(m_type, 0, 2);
    filters->addWidget(m_task, 1, 0);
    filters->addWidget(m_tag, 1, 1);
    filters->addWidget(m_externalId, 1, 2);
    filters->addWidget(apply, 0, 3, 2, 1);
    layout->addLayout(filters);

    m_search = new QLineEdit(this);
    m_search->setPlaceholderText(tr("Search loaded sessions (id, externalId, task, run, version, tags)"));
    m_search->setClearButtonEnabled(true);
    layout->addWidget(m_search);

    m_proxy->setSourceModel(m_model);
    m_proxy->setFilterRole(SessionListModel::SearchTextRole);
    m_proxy->setSortRole(SessionListModel::SortRole);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(SessionListModel::CreatedColumn, Qt::DescendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->setObjectName(QStringLiteral("sessionsTable"));
    const QFontMetrics fm(font());
    m_table->setColumnWidth(SessionListModel::IdColumn, fm.horizontalAdvance(QStringLiteral("session_cm00000000000000000000")));
    m_table->setColumnWidth(SessionListModel::CurrentRunColumn, fm.horizontalAdvance(QStringLiteral("run_cm000000000000000000000")));
    layout->addWidget(m_table, 1);

    auto *buttons = new QHBoxLayout;
    auto *newButton = new QPushButton(tr("New…"), this);
    auto *open = new QPushButton(tr("Open"), this);
    auto *close = new QPushButton(tr("Close…"), this);
    auto *edit = new QPushButton(tr("Tags/metadata…"), this);
    auto *refreshButton = new QPushButton(tr("Refresh"), this);
    m_more = new QPushButton(tr("Load more"), this);
    m_autoRefresh = new QCheckBox(tr("Auto-refresh"), this);
    m_autoRefresh->setChecked(true);
    newButton->setObjectName(QStringLiteral("newSessionButton"));
    // Two rows: one row of seven set the dock's minimum width (650 px) and
    // squeezed the session view on a 1600 px screen.
    for (QWidget *w : std::initializer_list<QWidget *>{newButton, open, close, edit})
        buttons->addWidget(w);
    buttons->addStretch(1);
    layout->addLayout(buttons);
    auto *listButtons = new QHBoxLayout;
    for (QWidget *w : std::initializer_list<QWidget *>{refreshButton, m_more, m_autoRefresh})
        listButtons->addWidget(w);
    listButtons->addStretch(1);
    layout->addLayout(listButtons);
    m_statusLabel = new QLabel(this);
    m_statusLabel->setWordWrap(true);
    layout->addWidget(m_statusLabel);

    connect(apply, &QPushButton::clicked, this, &SessionsPanel::applyFilter);
    for (QLineEdit *e : {m_type, m_task, m_tag, m_externalId})
        connect(e, &QLineEdit::returnPressed, this, &SessionsPanel::applyFilter);
    connect(m_status, &QComboBox::activated, this, &SessionsPanel::applyFilter);
    connect(m_period, &QComboBox::activated, this, &SessionsPanel::applyFilter);
    connect(m_search, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(newButton, &QPushButton::clicked, this, &SessionsPanel::newSessionRequested);
    connect(open, &QPushButton::clicked, this, [this] {
        if (const QString id = selectedSessionId(); !id.isEmpty())
            Q_EMIT openRequested(id);
    });
    connect(m_table, &QTableView::doubleClicked, this, [this] {
        if (const QString id = selectedSessionId(); !id.isEmpty())
            Q_EMIT openRequested(id);
    });
    connect(close, &QPushButton::clicked, this, &SessionsPanel::closeSelected);
    connect(edit, &QPushButton::clicked, this, &SessionsPanel::editSelected);
    connect(refreshButton, &QPushButton::clicked, this, &SessionsPanel::refresh);
    connect(m_more, &QPushButton::clicked, this, [this] {
        if (m_model->canFetchMore({}))
            m_model->fetchMore({});
    });
    connect(m_model, &SessionListModel::loadFailed, this, [this](const Error &error) {
        setStatus(tr("Cannot list sessions: %1").arg(error.message), true);
    });
    connect(m_model, &SessionListModel::pageLoaded, this, [this] {
        m_more->setEnabled(m_model->canFetchMore({}));
        setStatus(tr("%n session(s) loaded", nullptr, m_model->rowCount()));
    });
    m_refreshTimer.setInterval(5000);
    connect(&m_refreshTimer, &QTimer::timeout, this, [this] {
        if (m_autoRefresh->isChecked() && m_client && !m_model->isLoading())
            m_model->refresh();
    });
    m_refreshTimer.start();
}

void SessionsPanel::setClient(SessionsClient *client)
{
    m_client = client;
    m_model->setClient(client);
    if (client)
        applyFilter();
    else
        m_model->clear();
}

void SessionsPanel::applyFilter()
{
    SessionListFilter f;
    if (m_status->currentIndex() > 0)
        f.statuses = {m_status->currentText()};
    if (!m_type->text().trimmed().isEmpty())
        f.types = {m_type->text().trimmed()};
    if (!m_task->text().trimmed().isEmpty())
        f.taskIdentifiers = {m_task->text().trimmed()};
    if (!m_tag->text().trimmed().isEmpty())
        f.tags = {m_tag->text().trimmed()};
    f.externalId = m_externalId->text().trimmed();
    f.createdPeriod = m_period->currentData().toString();
    if (auto set = m_model->setFilter(f); !set)
        setStatus(tr("Filter not applied: %1").arg(set.error().message), true);
    else
        setStatus(tr("Loading…"));
}

void SessionsPanel::refresh()
{
    m_model->refresh();
}

QString SessionsPanel::selectedSessionId() const
{
    const QModelIndex current = m_table->currentIndex();
    return current.isValid() ? current.data(SessionListModel::SessionIdRole).toString() : QString();
}

void SessionsPanel::closeSelected()
{
    const QString id = selectedSessionId();
    if (id.isEmpty() || !m_client)
        return;
    bool ok = false;
    const QString reason = QInputDialog::getText(this, tr("Close session"),
                                                 tr("Close %1 for good. Reason (at most 256 characters):").arg(id),
                                                 QLineEdit::Normal, tr("closed from sessionscope"), &ok);
    if (!ok)
        return;
    m_client->closeSession(id, reason.left(256), this, [this, id](Result<SessionItem> closed) {
        if (!closed.ok())
            setStatus(tr("Cannot close %1: %2").arg(id, closed.error().message), true);
        else
            setStatus(tr("Closed %1").arg(id));
    });
}

void SessionsPanel::editSelected()
{
    const QString id = selectedSessionId();
    if (id.isEmpty() || !m_client)
        return;
    const int row = m_model->rowForSession(id);
    const SessionItem &s = m_model->session(row);
    bool ok = false;
    const QString tags = QInputDialog::getText(this, tr("Edit tags"), tr("Tags of %1 (comma-separated):").arg(id),
                                               QLineEdit::Normal, s.tags.join(QStringLiteral(", ")), &ok);
    if (!ok)
        return;
    const QString metadataText = QInputDialog::getMultiLineText(
        this, tr("Edit metadata"), tr("Metadata of %1 (JSON; empty clears it):").arg(id),
        s.metadata.isObject() ? QString::fromUtf8(QJsonDocument(s.metadata.toObject()).toJson()) : QString(), &ok);
    if (!ok)
        return;
    SessionUpdate update;
    QStringList tagList;
    for (const QString &t : tags.split(QLatin1Char(','), Qt::SkipEmptyParts))
        tagList.append(t.trimmed());
    update.tags = tagList;
    if (metadataText.trimmed().isEmpty()) {
        update.metadata = QJsonValue(QJsonValue::Null);
    } else {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(metadataText.toUtf8(), &error);
        if (error.error != QJsonParseError::NoError || !doc.isObject()) {
            setStatus(tr("Metadata not saved: %1").arg(doc.isObject() ? error.errorString() : tr("not a JSON object")),
                      true);
            return;
        }
        update.metadata = QJsonValue(doc.object());
    }
    m_client->updateSession(id, update, this, [this, id](Result<SessionItem> updated) {
        if (!updated.ok())
            setStatus(tr("Cannot update %1: %2").arg(id, updated.error().message), true);
        else
            setStatus(tr("Updated %1").arg(id));
    });
}

void SessionsPanel::setStatus(const QString &text, bool error)
{
    m_statusLabel->setText(text);
    m_statusLabel->setStyleSheet(error ? QStringLiteral("color:#c62828") : QString());
    if (error)
        Q_EMIT problem(text);
}

} // namespace sessionscope
