#include "ui/transcriptview.h"

#include "models/conversationmodel.h"
#include "models/jsontext.h"

#include <QScrollBar>

namespace sessionscope {

namespace {

QString escaped(const QString &text)
{
    return text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>"));
}

QString marker(const QString &colour, const QString &text)
{
    return QStringLiteral("<table width='100%' cellpadding='3'><tr><td align='center' style='color:%1; "
                          "font-size:small; border-top:1px solid %1'>%2</td></tr></table>")
        .arg(colour, text);
}

QString partHtml(const MessagePart &part)
{
    switch (part.type) {
    case MessagePart::Type::Text:
        return QStringLiteral("<div>%1</div>").arg(escaped(part.text));
    case MessagePart::Type::Reasoning:
        return QStringLiteral("<div style='color:#6d6d6d; font-style:italic'>&#128173; %1</div>").arg(escaped(part.text));
    case MessagePart::Type::Tool: {
        const ToolCall &t = part.tool;
        QString html = QStringLiteral("<div style='font-family:monospace; color:#4a148c'>&#128295; %1 "
                                      "<span style='color:#888'>[%2]</span></div>")
                           .arg(escaped(t.toolName), toolStateName(t.state));
        if (!t.input.is_null())
            html += QStringLiteral("<div style='font-family:monospace; color:#555'>in: %1</div>")
                        .arg(escaped(jsonText(t.input)));
        if (!t.output.is_null())
            html += QStringLiteral("<div style='font-family:monospace; color:#555'>out: %1</div>")
                        .arg(escaped(jsonText(t.output)));
        if (!t.errorText.isEmpty())
            html += QStringLiteral("<div style='color:#c62828'>%1</div>").arg(escaped(t.errorText));
        return html;
    }
    case MessagePart::Type::Data:
        return QStringLiteral("<div style='font-family:monospace; color:#555'>%1: %2</div>")
            .arg(escaped(part.dataType), escaped(jsonText(part.data)));
    case MessagePart::Type::StepStart:
        return {};
    default:
        return QStringLiteral("<div style='font-family:monospace; color:#888'>%1</div>")
            .arg(escaped(ConversationModel::partTypeName(part)));
    }
}

QString messageHtml(const UIMessage &m)
{
    const bool user = m.role == MessageRole::User;
    QString body;
    for (const MessagePart &part : m.parts)
        body += partHtml(part);
    if (body.isEmpty())
        body = QStringLiteral("<i style='color:#888'>(no content)</i>");
    if (!m.errorText.isEmpty())
        body += QStringLiteral("<div style='color:#c62828'>%1</div>").arg(escaped(m.errorText));
    QString meta = user ? QObject::tr("user · .in #%1").arg(m.firstSeq)
                        : QObject::tr("assistant · .out #%1–%2").arg(m.firstSeq).arg(m.lastSeq);
    if (m.streaming)
        meta += QObject::tr(" · streaming…");
    if (m.aborted)
        meta += QObject::tr(" · aborted");
    if (!user && !m.finishReason.isEmpty())
        meta += QObject::tr(" · %1").arg(m.finishReason);
    if (user && !m.clientData.is_null())
        meta += QObject::tr(" · clientData %1").arg(escaped(jsonText(m.clientData)));
    const QString bg = user ? QStringLiteral("#e3f2fd") : QStringLiteral("#f1f8e9");
    const QString align = user ? QStringLiteral("right") : QStringLiteral("left");
    return QStringLiteral("<table width='100%' cellpadding='0'><tr><td align='%1'>"
                          "<table cellpadding='8' style='background-color:%2; margin:4px'>"
                          "<tr><td><div style='font-size:small; color:#607d8b'>%3</div>%4</td></tr></table>"
                          "</td></tr></table>")
        .arg(align, bg, meta, body);
}

} // namespace

TranscriptView::TranscriptView(QWidget *parent) : QTextBrowser(parent)
{
    setOpenLinks(false);
    setPlaceholderText(tr("No conversation yet: send a message from the composer."));
    m_renderTimer.setSingleShot(true);
    m_renderTimer.setInterval(100);
    connect(&m_renderTimer, &QTimer::timeout, this, &TranscriptView::render);
}

void TranscriptView::setConversationModel(ConversationModel *model)
{
    if (m_model)
        m_model->disconnect(this);
    m_model = model;
    if (model) {
        connect(model, &QAbstractItemModel::rowsInserted, this, &TranscriptView::scheduleRender);
        connect(model, &QAbstractItemModel::dataChanged, this, &TranscriptView::scheduleRender);
        connect(model, &QAbstractItemModel::modelReset, this, &TranscriptView::scheduleRender);
    }
    render();
}

void TranscriptView::scheduleRender()
{
    if (!isVisible()) {
        m_stale = true;
        return;
    }
    if (!m_renderTimer.isActive())
        m_renderTimer.start();
}

void TranscriptView::showEvent(QShowEvent *event)
{
    QTextBrowser::showEvent(event);
    if (m_stale)
        render();
}

void TranscriptView::render()
{
    m_stale = false;
    if (!m_model) {
        clear();
        return;
    }
    const auto &timeline = m_model->timeline();
    const auto &messages = m_model->messages();
    QString html;
    const qsizetype first = std::max<qsizetype>(0, timeline.size() - MaxEntries);
    if (first > 0)
        html += marker(QStringLiteral("#888"), tr("%1 earlier entries not shown").arg(first));
    for (qsizetype i = first; i < timeline.size(); ++i) {
        const TimelineEntry &e = timeline[i];
        switch (e.kind) {
        case TimelineEntry::Kind::Message:
            if (e.messageIndex >= 0 && e.messageIndex < messages.size())
                html += messageHtml(messages[e.messageIndex]);
            break;
        case TimelineEntry::Kind::TurnComplete:
            html += marker(QStringLiteral("#9e9e9e"), tr("turn complete · .out #%1").arg(e.seq));
            break;
        case TimelineEntry::Kind::UpgradeRequired:
            html += marker(QStringLiteral("#e65100"),
                           tr("<b>upgrade required</b> · .out #%1 · a new run on the latest version takes over")
                               .arg(e.seq));
            break;
        case TimelineEntry::Kind::Stop:
            html += marker(QStringLiteral("#c62828"), tr("stop %1").arg(escaped(e.text)));
            break;
        case TimelineEntry::Kind::Error:
        case TimelineEntry::Kind::Abort:
            html += marker(QStringLiteral("#c62828"), tr("%1: %2")
                                                           .arg(ConversationModel::entryKindName(e.kind),
                                                                escaped(e.text)));
            break;
        default:
            html += marker(QStringLiteral("#5c6bc0"), tr("%1 %2 %3")
                                                          .arg(ConversationModel::entryKindName(e.kind),
                                                               escaped(e.subtype), escaped(e.text)));
            break;
        }
    }
    QScrollBar *bar = verticalScrollBar();
    const bool atEnd = bar->value() >= bar->maximum() - 4;
    setHtml(html);
    if (atEnd)
        bar->setValue(bar->maximum());
}

QString TranscriptView::plainTranscript() const
{
    return toPlainText();
}

} // namespace sessionscope
