#include "models/streamingest.h"

#include "models/conversationmodel.h"
#include "models/streamrecordmodel.h"

#include <QTimer>

#include <optional>

namespace sessionscope {

struct StreamIngest::Delivery
{
    quint64 generation = 0;
    RecordBatch batch;
    ConversationUpdate update;
    QList<Error> errors;
    std::optional<StreamTail> tails[2]; // In, Out
};

// Lives on the worker thread; every member is touched there only.
class IngestWorker : public QObject
{
public:
    IngestWorker(StreamIngest *owner, const StreamIngest::Options &options)
        : m_owner(owner), m_options(options), m_decoder(options.decoder), m_timer(this)
    {
        m_timer.setSingleShot(true);
        m_timer.setInterval(options.flushInterval);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] { deliver(); });
    }

    void feedSse(Channel channel, const QByteArray &bytes)
    {
        m_decoder.feedSse(channel, bytes);
        afterInput();
    }

    void finishSse(Channel channel)
    {
        m_decoder.finishSse(channel);
        afterInput();
    }

    void feedRecords(Channel channel, const QList<StreamRecord> &records)
    {
        m_decoder.addRecords(channel, records);
        afterInput();
    }

    void flush(quint64 generation)
    {
        deliver();
        QMetaObject::invokeMethod(
            m_owner, [owner = m_owner, generation] { owner->deliverFlushed(generation); }, Qt::QueuedConnection);
    }

    void reset(quint64 generation)
    {
        m_timer.stop();
        m_decoder.reset();
        m_generation = generation;
    }

private:
    void afterInput()
    {
        if (m_decoder.pendingRecords() >= m_options.maxBatchRecords
            || m_decoder.pendingBytes() >= m_options.maxBatchBytes)
            deliver();
        else if (!m_timer.isActive())
            m_timer.start();
    }

    void deliver()
    {
        m_timer.stop();
        StreamIngest::Delivery d;
        d.generation = m_generation;
        d.batch = m_decoder.takeBatch();
        if (m_options.decoder.conversation)
            d.update = m_decoder.takeConversationUpdate();
        d.errors = m_decoder.takeErrors();
        d.tails[0] = m_decoder.takeTail(Channel::In);
        d.tails[1] = m_decoder.takeTail(Channel::Out);
        if (d.batch.isEmpty() && d.update.isEmpty() && d.errors.isEmpty() && !d.tails[0] && !d.tails[1])
            return;
        QMetaObject::invokeMethod(
            m_owner, [owner = m_owner, d = std::move(d)] { owner->deliver(d); }, Qt::QueuedConnection);
    }

    StreamIngest *m_owner;
    StreamIngest::Options m_options;
    RecordBatchDecoder m_decoder;
    QTimer m_timer; // a child, so it moves to the worker thread with this object
    quint64 m_generation = 0;
};

StreamIngest::StreamIngest(QObject *parent) : StreamIngest(Options{}, parent) {}

StreamIngest::StreamIngest(const Options &options, QObject *parent) : QObject(parent), m_options(options)
{
    qRegisterMetaType<sessionscope::RecordBatch>();
    qRegisterMetaType<sessionscope::ConversationUpdate>();
    qRegisterMetaType<sessionscope::StreamTail>();
    qRegisterMetaType<sessionscope::Channel>();
    qRegisterMetaType<QList<sessionscope::Error>>();
    m_options.maxBatchRecords = qMax(1, m_options.maxBatchRecords);
    m_thread.setObjectName(QStringLiteral("sessionscope-ingest"));
    m_worker = new IngestWorker(this, m_options);
    m_worker->moveToThread(&m_thread);
    // Deleted on its own thread as that thread ends (its timer lives there).
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
}

StreamIngest::~StreamIngest()
{
    m_thread.quit();
    m_thread.wait();
}

void StreamIngest::setRecordModel(StreamRecordModel *model)
{
    m_recordModel = model;
}

void StreamIngest::setConversationModel(ConversationModel *model)
{
    m_conversationModel = model;
}

void StreamIngest::feedSse(Channel channel, const QByteArray &bytes)
{
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, channel, bytes] { w->feedSse(channel, bytes); }, Qt::QueuedConnection);
}

void StreamIngest::finishSse(Channel channel)
{
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, channel] { w->finishSse(channel); }, Qt::QueuedConnection);
}

void StreamIngest::feedRecords(Channel channel, const QList<StreamRecord> &records)
{
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, channel, records] { w->feedRecords(channel, records); }, Qt::QueuedConnection);
}

void StreamIngest::flush()
{
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, g = m_generation] { w->flush(g); }, Qt::QueuedConnection);
}

void StreamIngest::reset()
{
    ++m_generation;
    QMetaObject::invokeMethod(
        m_worker, [w = m_worker, g = m_generation] { w->reset(g); }, Qt::QueuedConnection);
    if (m_recordModel)
        m_recordModel->clear();
    if (m_conversationModel)
        m_conversationModel->clear();
}

void StreamIngest::deliver(const Delivery &d)
{
    if (d.generation != m_generation)
        return; // posted before a reset
    if (!d.batch.isEmpty()) {
        if (m_recordModel)
            m_recordModel->appendBatch(d.batch);
        ++m_batches;
        m_records += d.batch.size();
        Q_EMIT recordBatchReady(d.batch);
    }
    if (!d.update.isEmpty()) {
        if (m_conversationModel)
            m_conversationModel->applyUpdate(d.update);
        Q_EMIT conversationUpdated(d.update);
    }
    if (d.tails[0])
        Q_EMIT tailChanged(Channel::In, *d.tails[0]);
    if (d.tails[1])
        Q_EMIT tailChanged(Channel::Out, *d.tails[1]);
    if (!d.errors.isEmpty())
        Q_EMIT errorsOccurred(d.errors);
}

void StreamIngest::deliverFlushed(quint64 generation)
{
    if (generation == m_generation)
        Q_EMIT flushed();
}

} // namespace sessionscope
