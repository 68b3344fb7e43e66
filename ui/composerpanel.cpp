#include "ui/composerpanel.h"

#include "models/conversationmodel.h"
#include "net/inappender.h"

#include <QFontDatabase>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace sessionscope {

namespace {

enum SendColumn { SentCol, KindCol, PartCol, SeqCol, StateCol, AnsweredCol, SendColumnCount };

constexpr int ApprovalToolCallRole = Qt::UserRole + 1;
constexpr int ApprovalIdRole = Qt::UserRole + 2;
constexpr int ApprovalMessageIdRole = Qt::UserRole + 3;
constexpr int ApprovalToolNameRole = Qt::UserRole + 4;

} // namespace

ComposerPanel::ComposerPanel(QWidget *parent) : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);

    m_message = new QPlainTextEdit(this);
    m_message->setPlaceholderText(tr("Message to the agent (Ctrl+Enter sends)"));
    m_message->setMaximumHeight(80);
    m_message->setObjectName(QStringLiteral("composerMessage"));
    layout->addWidget(m_message);

    auto *buttons = new QHBoxLayout;
    m_sendButton = new QPushButton(tr("Send"), this);
    m_sendButton->setDefault(true);
    m_sendButton->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    m_stopButton = new QPushButton(tr("Stop"), this);
    m_regenerateButton = new QPushButton(tr("Regenerate"), this);
    buttons->addWidget(m_sendButton);
    buttons->addWidget(m_stopButton);
    buttons->addWidget(m_regenerateButton);
    buttons->addStretch(1);
    layout->addLayout(buttons);

    auto *actionRow = new QHBoxLayout;
    m_action = new QLineEdit(this);
    m_action->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_action->setPlaceholderText(tr("action JSON, e.g. {\"type\":\"undo\"}"));
    m_actionButton = new QPushButton(tr("Send action"), this);
    actionRow->addWidget(m_action, 1);
    actionRow->addWidget(m_actionButton);
    layout->addLayout(actionRow);

    auto *approvalBox = new QGroupBox(tr("Pending tool approvals"), this);
    auto *approvalLayout = new QHBoxLayout(approvalBox);
    m_approvals = new QListWidget(approvalBox);
    m_approvals->setMaximumHeight(60);
    auto *approvalButtons = new QVBoxLayout;
    m_approve = new QPushButton(tr("Approve"), approvalBox);
    m_deny = new QPushButton(tr("Deny"), approvalBox);
    approvalButtons->addWidget(m_approve);
    approvalButtons->addWidget(m_deny);
    approvalLayout->addWidget(m_approvals, 1);
    approvalLayout->addLayout(approvalButtons);
    layout->addWidget(approvalBox);

    m_sends = new QTableWidget(0, SendColumnCount, this);
    m_sends->setHorizontalHeaderLabels({tr("Sent"), tr("Kind"), tr("X-Part-Id"), tr(".in seq"), tr("State"),
                                        tr("Answered by")});
    m_sends->verticalHeader()->hide();
    m_sends->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_sends->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_sends->horizontalHeader()->setStretchLastSection(true);
    m_sends->setWordWrap(false);
    m_sends->setObjectName(QStringLiteral("sendsTable"));
    const QFontMetrics fm(font());
    m_sends->setColumnWidth(SentCol, fm.horizontalAdvance(QStringLiteral("00:00:00.000")) + 16);
    m_sends->setColumnWidth(KindCol, fm.horizontalAdvance(QStringLiteral("regenerate")) + 16);
    m_sends->setColumnWidth(PartCol, fm.horizontalAdvance(QStringLiteral("0123456789abcdef0123")) + 16);
    m_sends->setColumnWidth(SeqCol, fm.horizontalAdvance(QStringLiteral(".in seq")) + 20);
    m_sends->setColumnWidth(StateCol, fm.horizontalAdvance(QStringLiteral("retrying (10)")) + 16);
    m_sends->setMinimumHeight(120);
    layout->addWidget(m_sends, 1);

    m_note = new QLabel(this);
    m_note->setWordWrap(true);
    m_note->hide();
    layout->addWidget(m_note);

    connect(m_sendButton, &QPushButton::clicked, this, [this] { sendMessage(); });
    connect(m_stopButton, &QPushButton::clicked, this, &ComposerPanel::sendStop);
    connect(m_regenerateButton, &QPushButton::clicked, this, &ComposerPanel::sendRegenerate);
    connect(m_actionButton, &QPushButton::clicked, this, [this] { sendAction(m_action->text()); });
    connect(m_approve, &QPushButton::clicked, this, [this] { respondToApproval(true); });
    connect(m_deny, &QPushButton::clicked, this, [this] { respondToApproval(false); });
    m_approvalTimer.setSingleShot(true);
    m_approvalTimer.setInterval(200);
    connect(&m_approvalTimer, &QTimer::timeout, this, &ComposerPanel::refreshApprovals);
    refreshApprovals();
}

void ComposerPanel::setAppender(InAppender *appender)
{
    if (m_appender)
        m_appender->disconnect(this);
    m_appender = appender;
    if (!appender)
        return;
    connect(appender, &InAppender::appended, this, [this](const QString &partId, qint64 seq) {
        setCell(partId, SeqCol, QString::number(seq));
        setCell(partId, StateCol, tr("appended"), QColor(0x15, 0x65, 0xc0));
        setCell(partId, AnsweredCol, tr("waiting for turn-complete…"), QColor(0x75, 0x75, 0x75));
        const SendRow row = m_rows.value(partId);
        if (!row.clientData.isUndefined())
            Q_EMIT sendAppended(seq, row.sentAt, row.clientData);
    });
    connect(appender, &InAppender::retrying, this,
            [this](const QString &partId, int attempt, const Error &reason, const QDateTime &) {
                setCell(partId, StateCol, tr("retrying (%1)").arg(attempt), QColor(0xef, 0x6c, 0x00));
                setCell(partId, AnsweredCol, reason.message, QColor(0xef, 0x6c, 0x00));
            });
    connect(appender, &InAppender::failed, this, [this](const QString &partId, const Error &error) {
        setCell(partId, StateCol, tr("failed"), QColor(0xc6, 0x28, 0x28));
        setCell(partId, AnsweredCol, error.message, QColor(0xc6, 0x28, 0x28));
        Q_EMIT problem(tr("Send %1 failed: %2").arg(partId, error.message));
    });
    connect(appender, &InAppender::turnCompleted, this,
            [this](const QString &partId, qint64, const StreamRecord &record) {
                const bool empty = m_emptyTurns.value(record.seqNum, false);
                setCell(partId, StateCol, tr("answered"), QColor(0x2e, 0x7d, 0x32));
                if (empty) {
                    setCell(partId, AnsweredCol,
                            tr("turn-complete .out #%1 with NO content: likely a clientData schema failure")
                                .arg(record.seqNum),
                            QColor(0xc6, 0x28, 0x28));
                    Q_EMIT emptyTurnFlagged(partId, record.seqNum);
                } else {
                    setCell(partId, AnsweredCol, tr("turn-complete .out #%1").arg(record.seqNum));
                }
            });
}

void ComposerPanel::setConversationModel(ConversationModel *model)
{
    if (m_conversation)
        m_conversation->disconnect(this);
    m_conversation = model;
    if (model) {
        const auto schedule = [this] {
            if (!m_approvalTimer.isActive())
                m_approvalTimer.start();
        };
        connect(model, &QAbstractItemModel::rowsInserted, this, schedule);
        connect(model, &QAbstractItemModel::dataChanged, this, schedule);
        connect(model, &QAbstractItemModel::modelReset, this, schedule);
    }
    refreshApprovals();
}

void ComposerPanel::setReadOnly(bool readOnly, const QString &why)
{
    for (QWidget *w : std::initializer_list<QWidget *>{m_message, m_sendButton, m_stopButton, m_regenerateButton,
                                                       m_action, m_actionButton, m_approve, m_deny})
        w->setEnabled(!readOnly);
    m_note->setVisible(readOnly && !why.isEmpty());
    m_note->setText(why);
}

void ComposerPanel::observeRecords(const QList<StreamRecord> &records)
{
    for (const StreamRecord &r : records) {
        if (r.kind == RecordKind::Data) {
            ++m_dataInTurn;
        } else if (r.kind == RecordKind::Control && r.subtype() == controlheader::TurnComplete) {
            m_emptyTurns.insert(r.seqNum, m_dataInTurn == 0);
            m_dataInTurn = 0;
        }
    }
    if (m_appender)
        m_appender->observeRecords(records);
}

std::optional<QJsonValue> ComposerPanel::currentClientData()
{
    if (!m_clientData)
        return QJsonValue(QJsonValue::Undefined);
    const Result<QJsonValue> value = m_clientData();
    if (!value.ok()) {
        Q_EMIT problem(tr("Not sent: the clientData is not valid JSON (%1)").arg(value.error().message));
        return std::nullopt;
    }
    return *value;
}

QString ComposerPanel::sendMessage(const QString &text)
{
    if (!m_appender)
        return {};
    const QString message = text.isEmpty() ? m_message->toPlainText().trimmed() : text;
    if (message.isEmpty()) {
        Q_EMIT problem(tr("Type a message first."));
        return {};
    }
    const auto clientData = currentClientData();
    if (!clientData)
        return {};
    const QString partId = m_appender->sendMessage(message, *clientData);
    track(tr("message"), partId, *clientData);
    if (text.isEmpty())
        m_message->clear();
    Q_EMIT clientDataSent(*clientData);
    return partId;
}

QString ComposerPanel::sendStop()
{
    if (!m_appender)
        return {};
    return track(tr("stop"), m_appender->sendStop(), QJsonValue::Undefined);
}

QString ComposerPanel::sendRegenerate()
{
    if (!m_appender)
        return {};
    const auto clientData = currentClientData();
    if (!clientData)
        return {};
    const QString partId = m_appender->sendRegenerate({}, *clientData);
    track(tr("regenerate"), partId, *clientData);
    Q_EMIT clientDataSent(*clientData);
    return partId;
}

QString ComposerPanel::sendAction(const QString &json)
{
    if (!m_appender)
        return {};
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(json.toUtf8(), &error);
    if (error.error != QJsonParseError::NoError || doc.isNull()) {
        Q_EMIT problem(tr("Not sent: the action is not JSON (%1 at offset %2)")
                           .arg(error.errorString())
                           .arg(error.offset));
        return {};
    }
    const auto clientData = currentClientData();
    if (!clientData)
        return {};
    const QJsonValue action = doc.isObject() ? QJsonValue(doc.object()) : QJsonValue(doc.array());
    return track(tr("action"), m_appender->sendAction(action, *clientData), *clientData);
}

QString ComposerPanel::track(const QString &kind, const QString &partId, const QJsonValue &clientData)
{
    if (partId.isEmpty())
        return partId;
    const int row = m_sends->rowCount();
    m_sends->insertRow(row);
    SendRow send;
    send.row = row;
    send.sentAt = QDateTime::currentDateTimeUtc();
    send.clientData = clientData;
    m_rows.insert(partId, send);
    const QString cells[] = {send.sentAt.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz")), kind, partId,
                             QStringLiteral("—"), tr("sending"), QString()};
    for (int c = 0; c < SendColumnCount; ++c) {
        auto *item = new QTableWidgetItem(cells[c]);
        if (c == PartCol || c == SeqCol)
            item->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
        m_sends->setItem(row, c, item);
    }
    m_sends->scrollToBottom();
    return partId;
}

void ComposerPanel::setCell(const QString &partId, int column, const QString &text, const QColor &colour)
{
    const auto it = m_rows.constFind(partId);
    if (it == m_rows.constEnd())
        return;
    QTableWidgetItem *item = m_sends->item(it->row, column);
    if (!item)
        return;
    item->setText(text);
    item->setToolTip(text);
    item->setForeground(colour.isValid() ? QBrush(colour) : QBrush());
}

QString ComposerPanel::sendState(const QString &partId) const
{
    const auto it = m_rows.constFind(partId);
    return it == m_rows.constEnd() ? QString() : m_sends->item(it->row, StateCol)->text();
}

QString ComposerPanel::answeredBy(const QString &partId) const
{
    const auto it = m_rows.constFind(partId);
    return it == m_rows.constEnd() ? QString() : m_sends->item(it->row, AnsweredCol)->text();
}

void ComposerPanel::refreshApprovals()
{
    m_approvals->clear();
    if (m_conversation) {
        for (const UIMessage &m : m_conversation->messages()) {
            for (const MessagePart &p : m.parts) {
                if (p.type != MessagePart::Type::Tool || p.tool.state != ToolState::ApprovalRequested)
                    continue;
                auto *item = new QListWidgetItem(tr("%1 (%2) in message %3").arg(p.tool.toolName, p.tool.toolCallId, m.id));
                item->setData(ApprovalToolCallRole, p.tool.toolCallId);
                item->setData(ApprovalIdRole, p.tool.approvalId);
                item->setData(ApprovalMessageIdRole, m.id);
                item->setData(ApprovalToolNameRole, p.tool.toolName);
                m_approvals->addItem(item);
            }
        }
    }
    if (m_approvals->count() == 0)
        m_approvals->addItem(tr("none"));
    const bool any = m_approvals->count() > 0 && !m_approvals->item(0)->data(ApprovalToolCallRole).isNull();
    if (any && !m_approvals->currentItem())
        m_approvals->setCurrentRow(0);
    m_approve->setEnabled(any && m_sendButton->isEnabled());
    m_deny->setEnabled(any && m_sendButton->isEnabled());
}

void ComposerPanel::respondToApproval(bool approved)
{
    QListWidgetItem *item = m_approvals->currentItem();
    if (!m_appender || !item || item->data(ApprovalToolCallRole).isNull())
        return;
    const auto clientData = currentClientData();
    if (!clientData)
        return;
    // The AI SDK answers an approval by resubmitting the assistant message
    // with the tool part in state approval-responded.
    const QString messageId = item->data(ApprovalMessageIdRole).toString();
    const QJsonObject part{{QStringLiteral("type"), QStringLiteral("tool-") + item->data(ApprovalToolNameRole).toString()},
                           {QStringLiteral("toolCallId"), item->data(ApprovalToolCallRole).toString()},
                           {QStringLiteral("state"), QStringLiteral("approval-responded")},
                           {QStringLiteral("approval"), QJsonObject{{QStringLiteral("id"), item->data(ApprovalIdRole).toString()},
                                                                    {QStringLiteral("approved"), approved}}}};
    QJsonObject payload{{QStringLiteral("chatId"), m_appender->chatId()},
                        {QStringLiteral("trigger"), QStringLiteral("submit-message")},
                        {QStringLiteral("messageId"), messageId},
                        {QStringLiteral("message"), QJsonObject{{QStringLiteral("id"), messageId},
                                                                {QStringLiteral("role"), QStringLiteral("assistant")},
                                                                {QStringLiteral("parts"), QJsonArray{part}}}}};
    if (!clientData->isUndefined())
        payload.insert(QStringLiteral("metadata"), *clientData);
    const QJsonObject chunk{{QStringLiteral("kind"), QStringLiteral("message")}, {QStringLiteral("payload"), payload}};
    track(approved ? tr("approve") : tr("deny"), m_appender->sendChunk(chunk), *clientData);
}

} // namespace sessionscope
