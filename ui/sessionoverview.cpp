#include "ui/sessionoverview.h"

#include <QFontDatabase>
#include <QFormLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSplitter>
#include <QVBoxLayout>

namespace sessionscope {

namespace {

QString dateText(const QDateTime &d)
{
    return d.isValid() ? d.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QStringLiteral("—");
}

QString jsonText(const QJsonValue &value)
{
    if (value.isObject())
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Indented));
    if (value.isArray())
        return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Indented));
    return QStringLiteral("null");
}

} // namespace

SessionOverview::SessionOverview(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    auto *form = new QFormLayout;
    form->setLabelAlignment(Qt::AlignRight);
    m_id = addRow(form, tr("Session"));
    m_externalId = addRow(form, tr("externalId"));
    m_type = addRow(form, tr("Type"));
    m_task = addRow(form, tr("Task"));
    m_status = addRow(form, tr("Status"));
    m_run = addRow(form, tr("Current run"));
    m_tags = addRow(form, tr("Tags"));
    m_dates = addRow(form, tr("Dates"));
    m_token = addRow(form, tr("Token"));
    layout->addLayout(form);
    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    auto *split = new QSplitter(Qt::Horizontal, this);
    m_triggerConfig = new QPlainTextEdit(split);
    m_metadata = new QPlainTextEdit(split);
    for (QPlainTextEdit *e : {m_triggerConfig, m_metadata}) {
        e->setReadOnly(true);
        e->setFont(mono);
    }
    m_triggerConfig->setPlaceholderText(tr("triggerConfig"));
    m_metadata->setPlaceholderText(tr("metadata"));
    layout->addWidget(new QLabel(tr("triggerConfig  ·  metadata"), this));
    layout->addWidget(split, 1);
}

QLabel *SessionOverview::addRow(QFormLayout *form, const QString &label)
{
    auto *value = new QLabel(QStringLiteral("—"), this);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    value->setWordWrap(true);
    form->addRow(label, value);
    return value;
}

void SessionOverview::setSession(const SessionItem &s)
{
    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    m_id->setFont(mono);
    m_id->setText(s.id);
    m_externalId->setText(s.externalId.isEmpty() ? QStringLiteral("—") : s.externalId);
    m_type->setText(s.type);
    m_task->setText(s.taskIdentifier);
    QString status = s.status();
    if (s.isClosed())
        status += tr(" at %1 (%2)").arg(dateText(s.closedAt), s.closedReason.isEmpty() ? tr("no reason") : s.closedReason);
    if (s.expiresAt.isValid())
        status += tr(" · expires %1").arg(dateText(s.expiresAt));
    m_status->setText(status);
    if (s.currentRunId != m_runId) {
        m_runId = s.currentRunId;
        m_run->setText(m_runId.isEmpty() ? QStringLiteral("—") : m_runId);
    }
    m_tags->setText(s.tags.isEmpty() ? QStringLiteral("—") : s.tags.join(QStringLiteral(", ")));
    m_dates->setText(tr("created %1 · updated %2").arg(dateText(s.createdAt), dateText(s.updatedAt)));
    m_triggerConfig->setPlainText(jsonText(s.triggerConfig));
    m_metadata->setPlainText(jsonText(s.metadata));
}

void SessionOverview::setRunVersion(const QString &runId, const QString &version)
{
    if (runId == m_runId)
        m_run->setText(tr("%1 · version %2").arg(runId, version.isEmpty() ? tr("unknown") : version));
}

void SessionOverview::setToken(const JwtClaims &claims, const QString &source)
{
    QString text = tr("from %1 · scopes: %2").arg(source, claims.scopes.join(QStringLiteral(" ")));
    if (claims.expiresAt.isValid()) {
        const qint64 left = QDateTime::currentDateTimeUtc().secsTo(claims.expiresAt);
        text += tr(" · expires %1 (%2)")
                    .arg(dateText(claims.expiresAt),
                         left > 0 ? tr("in %1 min").arg(left / 60) : tr("expired"));
    }
    m_token->setText(text);
}

QString SessionOverview::statusText() const
{
    return m_status->text();
}

} // namespace sessionscope
