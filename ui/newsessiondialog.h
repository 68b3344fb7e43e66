#pragma once

#include "net/sessionsclient.h"

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QRadioButton;

namespace sessionscope {

// New session: task, externalId, tags, the clientData of the first run
// (triggerConfig.basePayload.metadata), and whether to preload the run or
// start it with a first message.
class NewSessionDialog : public QDialog
{
    Q_OBJECT

public:
    explicit NewSessionDialog(QWidget *parent = nullptr);

    // The request, or why the form is not valid (shown in the dialog).
    Result<CreateSessionRequest> request() const;
    // The first message, empty when the run is preloaded.
    QString firstMessage() const;

    QLineEdit *taskField() const { return m_task; }
    QLineEdit *externalIdField() const { return m_externalId; }
    QPlainTextEdit *clientDataField() const { return m_clientData; }
    QLineEdit *firstMessageField() const { return m_message; }

    void accept() override;

private:
    QLineEdit *m_task;
    QLineEdit *m_externalId;
    QLineEdit *m_tags;
    QPlainTextEdit *m_clientData;
    QRadioButton *m_preload;
    QRadioButton *m_withMessage;
    QLineEdit *m_message;
    QLabel *m_error;
};

} // namespace sessionscope
