#include "ui/newsessiondialog.h"

#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QUuid>
#include <QVBoxLayout>

namespace sessionscope {

NewSessionDialog::NewSessionDialog(QWidget *parent) : QDialog(parent)
{
    setWindowTitle(tr("New session"));
    auto *layout = new QVBoxLayout(this);
    auto *form = new QFormLayout;
    m_task = new QLineEdit(QStringLiteral("chat-agent"), this);
    m_externalId = new QLineEdit(this);
    m_externalId->setPlaceholderText(tr("optional chat id, e.g. chat-%1").arg(QUuid::createUuid().toString(QUuid::Id128).left(8)));
    m_tags = new QLineEdit(this);
    m_tags->setPlaceholderText(tr("comma-separated, at most 10"));
    m_clientData = new QPlainTextEdit(this);
    m_clientData->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_clientData->setPlainText(QStringLiteral("{\n  \"userId\": \"dev\",\n  \"protocolVersion\": \"v1\",\n  \"appVersion\": \"1.0.0\"\n}"));
    m_clientData->setMinimumHeight(110);
    m_preload = new QRadioButton(tr("Preload the run"), this);
    m_withMessage = new QRadioButton(tr("Start with a first message:"), this);
    m_preload->setChecked(true);
    m_message = new QLineEdit(this);
    m_message->setPlaceholderText(tr("Hello agent"));
    m_message->setEnabled(false);
    connect(m_withMessage, &QRadioButton::toggled, m_message, &QLineEdit::setEnabled);
    form->addRow(tr("Task"), m_task);
    form->addRow(tr("externalId"), m_externalId);
    form->addRow(tr("Tags"), m_tags);
    form->addRow(tr("clientData"), m_clientData);
    form->addRow(QString(), m_preload);
    form->addRow(m_withMessage, m_message);
    layout->addLayout(form);
    m_error = new QLabel(this);
    m_error->setStyleSheet(QStringLiteral("color:#c62828"));
    m_error->setWordWrap(true);
    layout->addWidget(m_error);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Create"));
    connect(buttons, &QDialogButtonBox::accepted, this, &NewSessionDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &NewSessionDialog::reject);
    layout->addWidget(buttons);
    resize(520, 420);
}

Result<CreateSessionRequest> NewSessionDialog::request() const
{
    CreateSessionRequest r;
    r.taskIdentifier = m_task->text().trimmed();
    r.externalId = m_externalId->text().trimmed();
    for (const QString &tag : m_tags->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
        r.tags.append(tag.trimmed());
    QJsonObject payload{{QStringLiteral("chatId"), r.externalId},
                        {QStringLiteral("trigger"), QStringLiteral("preload")}};
    const QByteArray text = m_clientData->toPlainText().toUtf8().trimmed();
    if (!text.isEmpty()) {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(text, &error);
        if (error.error != QJsonParseError::NoError)
            return Error::make(tr("clientData: %1 at offset %2").arg(error.errorString()).arg(error.offset));
        if (!doc.isObject())
            return Error::make(tr("clientData must be a JSON object"));
        payload.insert(QStringLiteral("metadata"), doc.object());
    }
    if (r.externalId.isEmpty())
        payload.remove(QStringLiteral("chatId"));
    // The first message goes to `.in` once the session exists, like any other.
    if (m_withMessage->isChecked()) {
        const QString message = m_message->text().trimmed();
        if (message.isEmpty())
            return Error::make(tr("Type the first message or choose Preload."));
    }
    r.basePayload = payload;
    if (auto valid = r.validate(); !valid)
        return valid.error();
    return r;
}

QString NewSessionDialog::firstMessage() const
{
    return m_withMessage->isChecked() ? m_message->text().trimmed() : QString();
}

void NewSessionDialog::accept()
{
    const auto r = request();
    if (!r.ok()) {
        m_error->setText(r.error().message);
        return;
    }
    QDialog::accept();
}

} // namespace sessionscope
