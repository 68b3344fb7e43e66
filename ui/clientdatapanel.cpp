#include "ui/clientdatapanel.h"

#include "models/clientdatadiff.h"

#include <QComboBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QLabel>
#include <QTableView>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace sessionscope {

namespace {

enum VersionColumn { LabelCol, BuiltinCol, SupportsCol, DeployedCol, VersionColumnCount };

QString pretty(const QJsonValue &value)
{
    if (value.isObject())
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Indented));
    if (value.isArray())
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Indented));
    return ClientDataDiff::valueText(value);
}

} // namespace

QList<QPair<QString, QJsonObject>> ClientDataPanel::presets()
{
    const auto marker = [](const char *protocol, const char *app) {
        return QJsonObject{{QStringLiteral("userId"), QStringLiteral("dev")},
                           {QStringLiteral("protocolVersion"), QLatin1String(protocol)},
                           {QStringLiteral("appVersion"), QLatin1String(app)}};
    };
    return {
        {QObject::tr("protocol v1 (what the current version accepts)"), marker("v1", "1.0.0")},
        {QObject::tr("protocol v2 (needs the next version: upgrade)"), marker("v2", "1.1.0")},
        {QObject::tr("protocol v3"), marker("v3", "1.2.0")},
        {QObject::tr("missing userId (schema failure)"),
         QJsonObject{{QStringLiteral("protocolVersion"), QStringLiteral("v1")}}},
    };
}

ClientDataPanel::ClientDataPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);

    auto *form = new QFormLayout;
    m_presets = new QComboBox(this);
    m_presets->addItem(tr("Presets…"));
    for (const auto &[name, value] : presets())
        m_presets->addItem(name, value);
    form->addRow(tr("Preset"), m_presets);
    m_protocol = new QComboBox(this);
    m_protocol->setEditable(true);
    m_protocol->addItems({QString(), QStringLiteral("v1"), QStringLiteral("v2"), QStringLiteral("v3")});
    m_protocol->setObjectName(QStringLiteral("protocolVersion"));
    form->addRow(tr("protocolVersion"), m_protocol);
    m_appVersion = new QLineEdit(this);
    m_appVersion->setPlaceholderText(tr("build id, e.g. 1.0.0 (empty: not sent)"));
    form->addRow(tr("appVersion"), m_appVersion);
    layout->addLayout(form);

    m_editor = new QPlainTextEdit(this);
    m_editor->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_editor->setObjectName(QStringLiteral("clientDataEditor"));
    m_editor->setMinimumHeight(90);
    layout->addWidget(m_editor, 1);

    m_validation = new QLabel(this);
    m_validation->setWordWrap(true);
    layout->addWidget(m_validation);
    m_diff = new QLabel(this);
    m_diff->setWordWrap(true);
    m_diff->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_diff);

    m_send = new QPushButton(tr("Send with this clientData"), this);
    m_send->setToolTip(tr("Sends the composer's message (or \"ping\") with this clientData."));
    layout->addWidget(m_send);

    m_versionsBox = new QGroupBox(tr("Deployed versions"), this);
    auto *vlayout = new QVBoxLayout(m_versionsBox);
    m_versionsTable = new QTableWidget(0, VersionColumnCount, m_versionsBox);
    m_versionsTable->setHorizontalHeaderLabels({tr("Version"), tr("Built-in"), tr("Supports"), tr("Deployed")});
    m_versionsTable->verticalHeader()->hide();
    m_versionsTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_versionsTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_versionsTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_versionsTable->horizontalHeader()->setStretchLastSection(true);
    m_versionsTable->setObjectName(QStringLiteral("versionsTable"));
    m_versionsTable->setMinimumHeight(110);
    vlayout->addWidget(m_versionsTable);
    m_versionsNote = new QLabel(m_versionsBox);
    m_versionsNote->setWordWrap(true);
    vlayout->addWidget(m_versionsNote);
    auto *vbuttons = new QHBoxLayout;
    m_deploy = new QPushButton(tr("Deploy next version"), m_versionsBox);
    m_refresh = new QPushButton(tr("Refresh"), m_versionsBox);
    vbuttons->addWidget(m_deploy);
    vbuttons->addWidget(m_refresh);
    vbuttons->addStretch(1);
    vlayout->addLayout(vbuttons);
    layout->addWidget(m_versionsBox);
    m_versionsBox->hide();

    m_provenanceBox = new QGroupBox(tr("Per turn: sent by the console / received by the agent"), this);
    auto *playout = new QVBoxLayout(m_provenanceBox);
    m_provenanceView = new QTableView(m_provenanceBox);
    m_provenanceView->setObjectName(QStringLiteral("provenance"));
    m_provenanceView->verticalHeader()->hide();
    // The panel is narrow: key lists and verdicts wrap, each row as tall as
    // its text, so the verdict is read whole rather than elided.
    m_provenanceView->setWordWrap(true);
    m_provenanceView->setTextElideMode(Qt::ElideNone);
    m_provenanceView->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_provenanceView->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_provenanceView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_provenanceView->setMinimumHeight(110);
    playout->addWidget(m_provenanceView);
    layout->addWidget(m_provenanceBox);
    m_provenanceBox->hide();

    connect(m_editor, &QPlainTextEdit::textChanged, this, &ClientDataPanel::onTextChanged);
    connect(m_protocol, &QComboBox::currentTextChanged, this, &ClientDataPanel::onFieldsEdited);
    connect(m_appVersion, &QLineEdit::textEdited, this, &ClientDataPanel::onFieldsEdited);
    connect(m_presets, &QComboBox::activated, this, [this](int index) {
        if (index > 0)
            setClientData(m_presets->itemData(index).toJsonObject());
        m_presets->setCurrentIndex(0);
    });
    connect(m_send, &QPushButton::clicked, this, &ClientDataPanel::sendRequested);
    connect(m_deploy, &QPushButton::clicked, this, &ClientDataPanel::deployNext);
    connect(m_refresh, &QPushButton::clicked, this, &ClientDataPanel::refreshVersions);

    setClientData(presets().first().second);
}

Result<QJsonValue> ClientDataPanel::clientData() const
{
    const QByteArray text = m_editor->toPlainText().toUtf8().trimmed();
    if (text.isEmpty())
        return QJsonValue(QJsonValue::Undefined);
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(text, &error);
    if (error.error != QJsonParseError::NoError) {
        // Line and column help more than a byte offset in an editor.
        const QByteArray before = text.left(error.offset);
        const int line = int(before.count('\n')) + 1;
        const int column = int(error.offset - before.lastIndexOf('\n'));
        Error e = Error::make(tr("%1 at line %2, column %3").arg(error.errorString()).arg(line).arg(column));
        return e;
    }
    if (!doc.isObject())
        return Error::make(tr("clientData must be a JSON object"));
    return QJsonValue(doc.object());
}

void ClientDataPanel::setClientData(const QJsonValue &value)
{
    m_editor->setPlainText(pretty(value));
}

void ClientDataPanel::setLastSent(const QJsonValue &value)
{
    m_lastSent = value;
    updateDiff();
}

QString ClientDataPanel::validationText() const
{
    return m_validation->text();
}

QString ClientDataPanel::diffText() const
{
    return m_diff->text();
}

void ClientDataPanel::onTextChanged()
{
    const auto value = clientData();
    m_send->setEnabled(value.ok());
    if (!value.ok()) {
        m_validation->setText(tr("✗ %1").arg(value.error().message));
        m_validation->setStyleSheet(QStringLiteral("color:#c62828"));
        m_editor->setStyleSheet(QStringLiteral("QPlainTextEdit { border: 1px solid #e57373; }"));
        m_diff->clear();
        return;
    }
    const bool forging = !m_edgeNamespace.isEmpty() && value->toObject().contains(m_edgeNamespace);
    if (forging) {
        // Whether this profile's .in really passes an edge cannot be told from
        // its URLs (a proxy may front every endpoint); the per-turn table shows
        // what the agent got.
        m_validation->setText(tr("⚠ %1 is owned by the edge proxy: through it, this value is deleted and the "
                                 "edge writes its own; sent around it, the agent gets it as typed")
                                  .arg(m_edgeNamespace));
        m_validation->setStyleSheet(QStringLiteral("color:#ef6c00"));
    } else {
        m_validation->setText(value->isUndefined() ? tr("✓ empty: no clientData is sent") : tr("✓ valid JSON object"));
        m_validation->setStyleSheet(QStringLiteral("color:#2e7d32"));
    }
    m_editor->setStyleSheet(QString());
    const QJsonObject object = value->toObject();
    m_syncing = true;
    m_protocol->setCurrentText(object.value(QStringLiteral("protocolVersion")).toString());
    m_appVersion->setText(object.value(QStringLiteral("appVersion")).toString());
    m_syncing = false;
    updateDiff();
}

void ClientDataPanel::onFieldsEdited()
{
    if (m_syncing)
        return;
    const auto value = clientData();
    if (!value.ok()) {
        m_validation->setText(tr("✗ fix the JSON before using the fields: %1").arg(value.error().message));
        return;
    }
    QJsonObject object = value->toObject();
    const auto put = [&object](const QString &key, const QString &text) {
        if (text.trimmed().isEmpty())
            object.remove(key);
        else
            object.insert(key, text.trimmed());
    };
    put(QStringLiteral("protocolVersion"), m_protocol->currentText());
    put(QStringLiteral("appVersion"), m_appVersion->text());
    // Keep the cursor in the field the user is typing in.
    const QSignalBlocker block(m_editor);
    m_editor->setPlainText(pretty(object));
    m_validation->setText(tr("✓ valid JSON object"));
    m_validation->setStyleSheet(QStringLiteral("color:#2e7d32"));
    updateDiff();
}

void ClientDataPanel::updateDiff()
{
    const auto value = clientData();
    if (!value.ok())
        return;
    if (m_lastSent.isUndefined()) {
        m_diff->setText(tr("Nothing sent yet from this console."));
        m_diff->setStyleSheet(QStringLiteral("color:#757575"));
        return;
    }
    const ClientDataDiff diff = ClientDataDiff::between(m_lastSent, *value);
    if (diff.isEmpty()) {
        m_diff->setText(tr("Same as the last value sent."));
        m_diff->setStyleSheet(QStringLiteral("color:#757575"));
    } else {
        m_diff->setText(tr("Changed since the last send: %1").arg(diff.summary()));
        m_diff->setStyleSheet(QStringLiteral("color:#e65100"));
    }
}

void ClientDataPanel::setEdgeNamespace(const QString &key)
{
    m_edgeNamespace = key;
    onTextChanged();
}

void ClientDataPanel::setProvenanceModel(QAbstractItemModel *model)
{
    m_provenanceView->setModel(model);
    if (model) {
        // The .in seq stays narrow; the other columns share the width.
        m_provenanceView->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    }
    m_provenanceBox->setVisible(model != nullptr);
}

void ClientDataPanel::setDeployments(DeploymentsClient *client, const QString &task)
{
    m_deployments = client;
    m_task = task;
    m_versionsBox->setVisible(client != nullptr);
    m_versions.clear();
    showVersions();
    if (client)
        refreshVersions();
}

void ClientDataPanel::refreshVersions()
{
    if (!m_deployments)
        return;
    m_versionsNote->setText(tr("Loading…"));
    m_deployments->list(m_task, this, [this](Result<QList<DeployedVersion>> versions) {
        if (!versions.ok() && versions.error().httpStatus == 404) {
            m_versionsNote->setText(tr("This backend has no deployments API: deploy with the Trigger.dev CLI."));
            m_versionsNote->setStyleSheet({});
            return;
        }
        if (!versions.ok()) {
            m_versionsNote->setText(tr("Cannot list versions: %1").arg(versions.error().message));
            m_versionsNote->setStyleSheet(QStringLiteral("color:#c62828"));
            return;
        }
        m_versions = *versions;
        showVersions();
        Q_EMIT versionsChanged();
    });
}

void ClientDataPanel::deployNext()
{
    if (!m_deployments)
        return;
    m_deploy->setEnabled(false);
    m_versionsNote->setText(tr("Deploying the next version of %1…").arg(m_task));
    m_deployments->deployBuiltin(m_task, QStringLiteral("next"), this, [this](Result<DeployedVersion> version) {
        m_deploy->setEnabled(true);
        if (!version.ok()) {
            m_versionsNote->setText(tr("Deploy failed: %1").arg(version.error().message));
            m_versionsNote->setStyleSheet(QStringLiteral("color:#c62828"));
            Q_EMIT problem(tr("Deploy failed: %1").arg(version.error().message));
            return;
        }
        Q_EMIT deployed(*version);
        refreshVersions();
    });
}

void ClientDataPanel::showVersions()
{
    m_versionsTable->setRowCount(int(m_versions.size()));
    for (int row = 0; row < m_versions.size(); ++row) {
        const DeployedVersion &v = m_versions[row];
        const QString cells[] = {v.isLatest ? tr("%1 (latest)").arg(v.label) : v.label, v.builtin, v.supportsText(),
                                 v.deployedAt.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))};
        for (int c = 0; c < VersionColumnCount; ++c) {
            auto *item = new QTableWidgetItem(cells[c]);
            item->setToolTip(v.description);
            if (v.isLatest) {
                QFont f = item->font();
                f.setBold(true);
                item->setFont(f);
            }
            m_versionsTable->setItem(row, c, item);
        }
    }
    m_versionsNote->setStyleSheet(QString());
    m_versionsNote->setText(m_versions.isEmpty()
                                ? tr("No versions listed.")
                                : tr("New runs start on the latest version; a running run keeps its own until "
                                     "clientData asks for an upgrade."));
}

} // namespace sessionscope
