#include "ui/streaminspector.h"

#include "models/conversationmodel.h"
#include "models/streamrecordfiltermodel.h"
#include "models/streamrecordmodel.h"
#include "ui/recordkinddelegate.h"
#include "ui/transcriptview.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace sessionscope {

namespace {

QString stateText(Channel channel, const StreamStatus &s)
{
    const QString name = channel == Channel::Out ? QStringLiteral(".out") : QStringLiteral(".in");
    QString colour = QStringLiteral("#616161");
    switch (s.state) {
    case SessionOutSubscription::State::CaughtUp: colour = QStringLiteral("#2e7d32"); break;
    case SessionOutSubscription::State::Live: colour = QStringLiteral("#1565c0"); break;
    case SessionOutSubscription::State::BackingOff:
    case SessionOutSubscription::State::Connecting: colour = QStringLiteral("#ef6c00"); break;
    case SessionOutSubscription::State::Failed: colour = QStringLiteral("#c62828"); break;
    default: break;
    }
    QString text = QStringLiteral("<b>%1</b> <span style='color:%2'>&#9679; %3</span>")
                       .arg(name, colour, SessionOutSubscription::stateName(s.state).toHtmlEscaped());
    text += QObject::tr(" · seq %1").arg(s.lastSeq);
    if (s.tailSeq >= 0)
        text += QObject::tr(" / tail %1").arg(s.tailSeq);
    text += s.caughtUp ? QObject::tr(" · caught up") : QObject::tr(" · behind");
    text += QObject::tr(" · reconnects %1").arg(std::max(0, s.connections - 1));
    if (!s.detail.isEmpty())
        text += QStringLiteral(" · <span style='color:#c62828'>%1</span>").arg(s.detail.toHtmlEscaped());
    return text;
}

} // namespace

StreamInspector::StreamInspector(QWidget *parent)
    : QWidget(parent), m_filter(new StreamRecordFilterModel(this)), m_stack(new QStackedWidget(this)),
      m_table(new QTableView(this)), m_detail(new QPlainTextEdit(this)), m_transcript(new TranscriptView(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->setSpacing(6);

    auto *bar = new QHBoxLayout;
    bar->setSpacing(6);
    m_rawButton = new QToolButton(this);
    m_rawButton->setText(tr("Raw"));
    m_rawButton->setCheckable(true);
    m_rawButton->setChecked(true);
    m_renderedButton = new QToolButton(this);
    m_renderedButton->setText(tr("Rendered"));
    m_renderedButton->setCheckable(true);
    auto *viewGroup = new QButtonGroup(this);
    viewGroup->addButton(m_rawButton);
    viewGroup->addButton(m_renderedButton);
    viewGroup->setExclusive(true);
    bar->addWidget(m_rawButton);
    bar->addWidget(m_renderedButton);
    bar->addSpacing(10);

    m_channel = new QComboBox(this);
    m_channel->addItem(tr("both streams"));
    m_channel->addItem(tr(".out only"));
    m_channel->addItem(tr(".in only"));
    bar->addWidget(m_channel);
    m_kindData = new QCheckBox(tr("data"), this);
    m_kindControl = new QCheckBox(tr("control"), this);
    m_kindCommand = new QCheckBox(tr("command"), this);
    for (QCheckBox *box : {m_kindData, m_kindControl, m_kindCommand}) {
        box->setChecked(true);
        bar->addWidget(box);
        connect(box, &QCheckBox::toggled, this, &StreamInspector::applyFilters);
    }
    m_types = new QLineEdit(this);
    m_types->setPlaceholderText(tr("chunk types: text-delta, data-*"));
    m_types->setClearButtonEnabled(true);
    bar->addWidget(m_types, 1);
    m_search = new QLineEdit(this);
    m_search->setPlaceholderText(tr("search bodies"));
    m_search->setClearButtonEnabled(true);
    bar->addWidget(m_search, 1);
    layout->addLayout(bar);

    auto *bar2 = new QHBoxLayout;
    bar2->setSpacing(6);
    m_pause = new QToolButton(this);
    m_pause->setText(tr("Pause"));
    m_pause->setCheckable(true);
    m_pause->setToolTip(tr("Stop both subscriptions; resuming continues from the last seq, nothing is lost."));
    m_follow = new QCheckBox(tr("Follow"), this);
    m_follow->setChecked(true);
    bar2->addWidget(m_pause);
    bar2->addWidget(m_follow);
    bar2->addSpacing(10);
    bar2->addWidget(new QLabel(tr("Jump to"), this));
    m_jumpChannel = new QComboBox(this);
    m_jumpChannel->addItem(QStringLiteral(".out"));
    m_jumpChannel->addItem(QStringLiteral(".in"));
    m_jumpSeq = new QSpinBox(this);
    m_jumpSeq->setRange(0, std::numeric_limits<int>::max());
    auto *go = new QPushButton(tr("Go"), this);
    bar2->addWidget(m_jumpChannel);
    bar2->addWidget(m_jumpSeq);
    bar2->addWidget(go);
    bar2->addStretch(1);
    m_counts = new QLabel(this);
    bar2->addWidget(m_counts);
    layout->addLayout(bar2);

    auto *states = new QHBoxLayout;
    m_outState = new QLabel(tr("<b>.out</b> idle"), this);
    m_inState = new QLabel(tr("<b>.in</b> idle"), this);
    m_outState->setTextFormat(Qt::RichText);
    m_inState->setTextFormat(Qt::RichText);
    states->addWidget(m_outState);
    states->addSpacing(16);
    states->addWidget(m_inState);
    states->addStretch(1);
    layout->addLayout(states);

    m_error = new QLabel(this);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("QLabel { background:#ffebee; color:#b71c1c; padding:4px 6px; "
                                          "border:1px solid #ef9a9a; border-radius:3px; }"));
    m_error->hide();
    layout->addWidget(m_error);

    m_table->setModel(m_filter);
    m_table->setItemDelegate(new RecordKindDelegate(m_table));
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(QFontMetrics(QFontDatabase::systemFont(QFontDatabase::FixedFont)).height() + 6);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setWordWrap(false);
    m_table->setAlternatingRowColors(true);
    m_table->setObjectName(QStringLiteral("recordTable"));

    QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    m_detail->setFont(mono);
    m_detail->setReadOnly(true);
    m_detail->setPlaceholderText(tr("Select a record to see its body and headers."));
    m_detail->setLineWrapMode(QPlainTextEdit::NoWrap);

    auto *split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_table);
    split->addWidget(m_detail);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    m_stack->addWidget(split);
    m_stack->addWidget(m_transcript);
    layout->addWidget(m_stack, 1);

    connect(m_renderedButton, &QToolButton::toggled, this, &StreamInspector::setRendered);
    connect(m_channel, &QComboBox::currentIndexChanged, this, &StreamInspector::applyFilters);
    connect(m_types, &QLineEdit::textChanged, this, &StreamInspector::applyFilters);
    connect(m_search, &QLineEdit::textChanged, this, &StreamInspector::applyFilters);
    connect(m_pause, &QToolButton::toggled, this, [this](bool paused) {
        m_pause->setText(paused ? tr("Resume") : tr("Pause"));
        Q_EMIT pauseToggled(paused);
    });
    connect(go, &QPushButton::clicked, this, [this] {
        const Channel c = m_jumpChannel->currentIndex() == 0 ? Channel::Out : Channel::In;
        if (!jumpToSeq(c, m_jumpSeq->value()))
            showError(tr("No %1 record at or after seq %2 is shown").arg(m_jumpChannel->currentText()).arg(m_jumpSeq->value()));
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) { showDetail(current); });
    connect(&m_detailWatcher, &QFutureWatcher<QString>::finished, this, [this] {
        m_detail->setPlainText(m_detailHeaders + m_detailWatcher.result());
    });
    connect(m_filter, &QAbstractItemModel::rowsInserted, this, &StreamInspector::onRowsInserted);
    connect(m_filter, &QAbstractItemModel::rowsRemoved, this, &StreamInspector::updateCounts);
    connect(m_filter, &QAbstractItemModel::modelReset, this, &StreamInspector::updateCounts);
    updateCounts();
}

void StreamInspector::setModels(StreamRecordModel *records, ConversationModel *conversation)
{
    m_records = records;
    m_filter->setSourceModel(records);
    m_transcript->setConversationModel(conversation);
    const QFontMetrics fm(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    const int widths[] = {7, 13, 8, 8, 20, 6};
    for (int c = 0; c < int(std::size(widths)); ++c)
        m_table->setColumnWidth(c, fm.horizontalAdvance(QLatin1Char('m')) * widths[c] + 12);
    updateCounts();
}

void StreamInspector::setStreamStatus(Channel channel, const StreamStatus &status)
{
    (channel == Channel::Out ? m_outState : m_inState)->setText(stateText(channel, status));
}

void StreamInspector::showError(const QString &message)
{
    ++m_errorCount;
    m_error->setText(m_errorCount > 1 ? tr("%1  (%2 problems so far)").arg(message).arg(m_errorCount) : message);
    m_error->show();
}

QString StreamInspector::errorText() const
{
    return m_error->isVisible() ? m_error->text() : QString();
}

void StreamInspector::setSourceDescription(const QString &text)
{
    m_outState->setText(text);
    m_inState->clear();
    m_pause->setEnabled(false);
}

void StreamInspector::setRendered(bool rendered)
{
    m_stack->setCurrentIndex(rendered ? 1 : 0);
    if (m_renderedButton->isChecked() != rendered)
        (rendered ? m_renderedButton : m_rawButton)->setChecked(true);
}

bool StreamInspector::isRendered() const
{
    return m_stack->currentIndex() == 1;
}

bool StreamInspector::isPaused() const
{
    return m_pause->isChecked();
}

bool StreamInspector::jumpToSeq(Channel channel, qint64 seq)
{
    const QModelIndex index = m_filter->indexForSeq(channel, seq);
    if (!index.isValid())
        return false;
    m_follow->setChecked(false);
    m_table->setCurrentIndex(index);
    m_table->scrollTo(index, QAbstractItemView::PositionAtCenter);
    return true;
}

void StreamInspector::applyFilters()
{
    const int c = m_channel->currentIndex();
    m_filter->setChannelFilter(c == 0 ? std::nullopt : std::optional(c == 1 ? Channel::Out : Channel::In));
    QList<RecordKind> kinds;
    if (m_kindData->isChecked())
        kinds.append(RecordKind::Data);
    if (m_kindControl->isChecked())
        kinds.append(RecordKind::Control);
    if (m_kindCommand->isChecked())
        kinds.append(RecordKind::Command);
    // At least one kind stays on: an empty filter would mean "every kind".
    if (kinds.isEmpty()) {
        if (auto *box = qobject_cast<QCheckBox *>(sender())) {
            QSignalBlocker block(box);
            box->setChecked(true);
        }
        return;
    }
    m_filter->setKindFilter(kinds.size() == 3 ? QList<RecordKind>{} : kinds);
    QStringList types;
    for (const QString &t : m_types->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
        types.append(t.trimmed());
    m_filter->setTypeFilter(types);
    m_filter->setTextFilter(m_search->text());
    updateCounts();
}

void StreamInspector::showDetail(const QModelIndex &proxyIndex)
{
    if (!m_records || !proxyIndex.isValid()) {
        m_detail->clear();
        return;
    }
    const int row = m_filter->mapToSource(proxyIndex).row();
    const QModelIndex source = m_records->index(row, 0);
    QString head = tr("%1 seq %2 · %3 · %4 · %5 bytes\n")
                       .arg(source.data(StreamRecordModel::ChannelRole).toInt() == int(Channel::In) ? QStringLiteral(".in")
                                                                                                  : QStringLiteral(".out"))
                       .arg(source.data(StreamRecordModel::SeqRole).toLongLong())
                       .arg(m_records->index(row, StreamRecordModel::KindColumn).data().toString(),
                            source.data(StreamRecordModel::TypeRole).toString())
                       .arg(source.data(StreamRecordModel::SizeRole).toLongLong());
    head += tr("time %1\n").arg(m_records->index(row, StreamRecordModel::TimeColumn).data(Qt::ToolTipRole).toString());
    const QVariantList headers = source.data(StreamRecordModel::HeadersRole).toList();
    if (!headers.isEmpty()) {
        head += tr("headers:\n");
        for (const QVariant &h : headers) {
            const QStringList pair = h.toStringList();
            head += QStringLiteral("  %1: %2\n").arg(pair.value(0).isEmpty() ? QStringLiteral("\"\"") : pair.value(0),
                                                    pair.value(1));
        }
    }
    if (source.data(StreamRecordModel::HasErrorRole).toBool())
        head += tr("decode error: %1\n").arg(source.data(StreamRecordModel::SummaryRole).toString());
    head += QStringLiteral("\n");
    m_detailHeaders = head;
    m_detail->setPlainText(head + tr("(formatting…)"));
    m_detailWatcher.setFuture(m_records->prettyBodyAsync(row));
}

void StreamInspector::onRowsInserted()
{
    updateCounts();
    if (m_follow->isChecked() && !isRendered())
        m_table->scrollToBottom();
}

void StreamInspector::updateCounts()
{
    const int total = m_records ? m_records->rowCount() : 0;
    m_counts->setText(tr("%1 of %2 records").arg(m_filter->rowCount()).arg(total));
}

} // namespace sessionscope
