#pragma once

#include "models/conversationupdate.h"
#include "models/recordbatchdecoder.h"
#include "net/result.h"
#include "net/streamrecord.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QThread>

#include <chrono>

namespace sessionscope {

class ConversationModel;
class StreamRecordModel;

// Keeps parsing off the UI thread: raw SSE bytes or framed records go to a
// RecordBatchDecoder on a worker thread, which coalesces them and posts one
// RecordBatch (and one ConversationUpdate) per flush interval, or sooner when
// maxBatchRecords or maxBatchBytes pile up. The attached models insert each
// as one batch, so at any record rate the UI thread sees a few dozen cheap
// insertions per second.
//
// The feed functions may be called from any thread (a subscription living on
// its own thread can feed this directly); everything else belongs to the
// thread that owns the object.
class StreamIngest : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        // One batch per 60 Hz frame. At 33 ms a batch of ~1,700 records at
        // 50,000/s stalled the UI thread for up to 35-110 ms now and then
        // (bench ui-ingest); at 16 ms the worst was 12 ms, for more UI-thread
        // time spread over more, smaller insertions.
        std::chrono::milliseconds flushInterval{16};
        int maxBatchRecords = 16384;
        qsizetype maxBatchBytes = 32 * 1024 * 1024;
        RecordBatchDecoder::Options decoder;
    };

    explicit StreamIngest(QObject *parent = nullptr);
    explicit StreamIngest(const Options &options, QObject *parent = nullptr);
    ~StreamIngest() override;

    const Options &options() const { return m_options; }

    // Batches go to these before recordBatchReady / conversationUpdated.
    void setRecordModel(StreamRecordModel *model);
    void setConversationModel(ConversationModel *model);

    void feedSse(Channel channel, const QByteArray &bytes);
    void finishSse(Channel channel);
    void feedRecords(Channel channel, const QList<sessionscope::StreamRecord> &records);
    // Delivers what is pending now; flushed() follows it.
    void flush();
    // Starts over: clears the decoder and the attached models, and drops
    // whatever the worker had already posted.
    void reset();

    qint64 batchesDelivered() const { return m_batches; }
    qint64 recordsDelivered() const { return m_records; }

Q_SIGNALS:
    void recordBatchReady(const sessionscope::RecordBatch &batch);
    void conversationUpdated(const sessionscope::ConversationUpdate &update);
    void tailChanged(sessionscope::Channel channel, const sessionscope::StreamTail &tail);
    // SSE and body decoding problems; the records around them still arrive.
    // (The conversation's own complaints come from ConversationModel.)
    void errorsOccurred(const QList<sessionscope::Error> &errors);
    void flushed();

private:
    friend class IngestWorker;
    struct Delivery;

    void deliver(const Delivery &delivery);
    void deliverFlushed(quint64 generation);

    Options m_options;
    QThread m_thread;
    class IngestWorker *m_worker = nullptr;
    QPointer<StreamRecordModel> m_recordModel;
    QPointer<ConversationModel> m_conversationModel;
    quint64 m_generation = 0;
    qint64 m_batches = 0;
    qint64 m_records = 0;
};

} // namespace sessionscope
