#include "ui/connectionsdialog.h"

#include "net/profilestore.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

namespace sessionscope {

ConnectionsDialog::ConnectionsDialog(ProfileStore *store, QWidget *parent) : QDialog(parent), m_store(store)
{
    setWindowTitle(tr("Connections"));
    auto *layout = new QHBoxLayout(this);
    auto *left = new QVBoxLayout;
    m_list = new QListWidget(this);
    left->addWidget(m_list, 1);
    auto *embedded = new QPushButton(tr("Use the embedded server"), this);
    left->addWidget(embedded);
    layout->addLayout(left, 1);

    auto *right = new QVBoxLayout;
    auto *form = new QFormLayout;
    m_name = new QLineEdit(this);
    m_kind = new QComboBox(this);
    m_kind->addItem(tr("Trigger.dev cloud"), int(BackendKind::Cloud));
    m_kind->addItem(tr("Self-hosted"), int(BackendKind::SelfHosted));
    m_kind->addItem(tr("Embedded (another sessionscope-server)"), int(BackendKind::Embedded));
    m_baseUrl = new QLineEdit(this);
    m_sessionsUrl = new QLineEdit(this);
    m_inUrl = new QLineEdit(this);
    m_outUrl = new QLineEdit(this);
    for (QLineEdit *e : {m_sessionsUrl, m_inUrl, m_outUrl})
        e->setPlaceholderText(tr("same as the base URL"));
    m_key = new QLineEdit(this);
    m_key->setEchoMode(QLineEdit::Password);
    m_key->setPlaceholderText(tr("secret key (kept in the keychain; empty keeps the stored one)"));
    form->addRow(tr("Name"), m_name);
    form->addRow(tr("Kind"), m_kind);
    form->addRow(tr("Base URL"), m_baseUrl);
    form->addRow(tr("sessions via"), m_sessionsUrl);
    form->addRow(tr(".in via"), m_inUrl);
    form->addRow(tr(".out via"), m_outUrl);
    form->addRow(tr("Secret key"), m_key);
    m_edgeNamespace = new QLineEdit(this);
    m_edgeNamespace->setPlaceholderText(tr("clientData key an edge proxy owns, e.g. __edge (optional)"));
    form->addRow(tr("Edge-owned key"), m_edgeNamespace);
    right->addLayout(form);
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    right->addWidget(m_status);
    auto *buttons = new QHBoxLayout;
    auto *saveButton = new QPushButton(tr("Save"), this);
    auto *removeButton = new QPushButton(tr("Remove"), this);
    auto *connectButton = new QPushButton(tr("Connect"), this);
    connectButton->setDefault(true);
    buttons->addWidget(saveButton);
    buttons->addWidget(removeButton);
    buttons->addStretch(1);
    buttons->addWidget(connectButton);
    right->addLayout(buttons);
    right->addStretch(1);
    layout->addLayout(right, 2);

    connect(m_list, &QListWidget::currentTextChanged, this, &ConnectionsDialog::showProfile);
    connect(saveButton, &QPushButton::clicked, this, &ConnectionsDialog::save);
    connect(removeButton, &QPushButton::clicked, this, &ConnectionsDialog::removeCurrent);
    connect(connectButton, &QPushButton::clicked, this, &ConnectionsDialog::connectCurrent);
    connect(embedded, &QPushButton::clicked, this, [this] {
        Q_EMIT embeddedRequested();
        accept();
    });
    // Named for tests and accessibility tools.
    m_list->setObjectName(QStringLiteral("profiles"));
    embedded->setObjectName(QStringLiteral("useEmbedded"));
    m_name->setObjectName(QStringLiteral("name"));
    m_kind->setObjectName(QStringLiteral("kind"));
    m_baseUrl->setObjectName(QStringLiteral("baseUrl"));
    m_sessionsUrl->setObjectName(QStringLiteral("sessionsUrl"));
    m_inUrl->setObjectName(QStringLiteral("inUrl"));
    m_outUrl->setObjectName(QStringLiteral("outUrl"));
    m_key->setObjectName(QStringLiteral("secretKey"));
    m_edgeNamespace->setObjectName(QStringLiteral("edgeNamespace"));
    m_status->setObjectName(QStringLiteral("status"));
    saveButton->setObjectName(QStringLiteral("save"));
    removeButton->setObjectName(QStringLiteral("remove"));
    connectButton->setObjectName(QStringLiteral("connect"));
    resize(720, 380);
    reload();
}

void ConnectionsDialog::reload()
{
    m_list->clear();
    if (!m_store)
        return;
    if (auto loaded = m_store->load(); !loaded)
        setStatus(tr("Cannot read profiles: %1").arg(loaded.error().message), true);
    for (const ConnectionProfile &p : m_store->profiles())
        m_list->addItem(p.name);
    if (m_list->count() > 0)
        m_list->setCurrentRow(0);
}

void ConnectionsDialog::showProfile(const QString &name)
{
    const auto p = m_store ? m_store->profile(name) : std::nullopt;
    if (!p)
        return;
    m_name->setText(p->name);
    m_kind->setCurrentIndex(m_kind->findData(int(p->kind)));
    m_baseUrl->setText(p->baseUrl.toString());
    const auto override = [&p](EndpointFamily f) {
        return p->endpointOverrides.contains(f) ? p->endpointOverrides.value(f).toString() : QString();
    };
    m_sessionsUrl->setText(override(EndpointFamily::Sessions));
    m_inUrl->setText(override(EndpointFamily::In));
    m_outUrl->setText(override(EndpointFamily::Out));
    m_edgeNamespace->setText(p->edgeNamespace);
    m_key->clear();
    setStatus(p->secretStorageNote.isEmpty() ? tr("Key stored: %1").arg(ConnectionProfile::storageName(p->secretStorage))
                                             : p->secretStorageNote);
}

ConnectionProfile ConnectionsDialog::formProfile() const
{
    ConnectionProfile p;
    p.name = m_name->text().trimmed();
    p.kind = BackendKind(m_kind->currentData().toInt());
    p.baseUrl = QUrl(m_baseUrl->text().trimmed());
    const auto put = [&p](EndpointFamily f, const QString &text) {
        if (!text.trimmed().isEmpty())
            p.endpointOverrides.insert(f, QUrl(text.trimmed()));
    };
    put(EndpointFamily::Sessions, m_sessionsUrl->text());
    put(EndpointFamily::In, m_inUrl->text());
    put(EndpointFamily::Out, m_outUrl->text());
    p.edgeNamespace = m_edgeNamespace->text().trimmed();
    return p;
}

void ConnectionsDialog::save()
{
    if (!m_store)
        return;
    const ConnectionProfile p = formProfile();
    if (auto valid = p.validate(); !valid)
        return setStatus(valid.error().message, true);
    if (auto stored = m_store->upsert(p); !stored)
        return setStatus(stored.error().message, true);
    if (auto saved = m_store->save(); !saved)
        return setStatus(saved.error().message, true);
    const QString key = m_key->text();
    if (!key.isEmpty()) {
        m_store->storeSecretKey(p.name, key, this, [this](Result<SecretStorage> where) {
            if (!where.ok())
                setStatus(tr("Profile saved, key not stored: %1").arg(where.error().message), true);
            else
                setStatus(tr("Saved; key in %1").arg(ConnectionProfile::storageName(*where)));
        });
    } else {
        setStatus(tr("Saved"));
    }
    const QString name = p.name;
    reload();
    const auto items = m_list->findItems(name, Qt::MatchExactly);
    if (!items.isEmpty())
        m_list->setCurrentItem(items.first());
}

void ConnectionsDialog::removeCurrent()
{
    if (!m_store || !m_list->currentItem())
        return;
    if (auto removed = m_store->remove(m_list->currentItem()->text()); !removed)
        return setStatus(removed.error().message, true);
    if (auto saved = m_store->save(); !saved)
        setStatus(saved.error().message, true);
    reload();
}

void ConnectionsDialog::connectCurrent()
{
    if (!m_store || !m_list->currentItem())
        return;
    setStatus(tr("Reading the key…"));
    m_store->resolve(m_list->currentItem()->text(), this, [this](Result<ConnectionProfile> profile) {
        if (!profile.ok())
            return setStatus(profile.error().message, true);
        Q_EMIT connectRequested(*profile);
        accept();
    });
}

void ConnectionsDialog::setStatus(const QString &text, bool error)
{
    m_status->setText(text);
    m_status->setStyleSheet(error ? QStringLiteral("color:#c62828") : QString());
}

} // namespace sessionscope
