#pragma once

#include "net/sessionsclient.h"
#include "net/tokenmanager.h"

#include <QWidget>

class QFormLayout;
class QLabel;
class QPlainTextEdit;

namespace sessionscope {

// The Overview tab: ids, status, current run and its version, the
// triggerConfig and metadata as JSON, and the token's scopes and expiry.
class SessionOverview : public QWidget
{
    Q_OBJECT

public:
    explicit SessionOverview(QWidget *parent = nullptr);

    void setSession(const SessionItem &session);
    void setRunVersion(const QString &runId, const QString &version);
    void setToken(const JwtClaims &claims, const QString &source);
    QString statusText() const;

private:
    QLabel *addRow(QFormLayout *form, const QString &label);

    QString m_runId;
    QLabel *m_id;
    QLabel *m_externalId;
    QLabel *m_type;
    QLabel *m_task;
    QLabel *m_status;
    QLabel *m_run;
    QLabel *m_tags;
    QLabel *m_dates;
    QLabel *m_token;
    QPlainTextEdit *m_triggerConfig;
    QPlainTextEdit *m_metadata;
};

} // namespace sessionscope
