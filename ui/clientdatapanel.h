#pragma once

#include "net/result.h"
#include "ui/deploymentsclient.h"

#include <QJsonValue>
#include <QPointer>
#include <QWidget>

class QAbstractItemModel;
class QComboBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTableView;
class QTableWidget;

namespace sessionscope {

// The clientData sent with every turn (payload.metadata): a JSON editor with
// form fields for the contract markers (protocolVersion, appVersion),
// validation as you type, presets, and a diff against the last value sent.
// On a backend with deployable versions (the embedded server) it also lists
// the deployed versions with what each supports and deploys the next one, so
// an upgrade can be triggered on purpose.
class ClientDataPanel : public QWidget
{
    Q_OBJECT

public:
    explicit ClientDataPanel(QWidget *parent = nullptr);

    // The editor's value, or why it is not valid JSON.
    Result<QJsonValue> clientData() const;
    void setClientData(const QJsonValue &value);
    void setLastSent(const QJsonValue &value);
    QString diffText() const;

    // nullptr hides the versions box (backends without the extension).
    void setDeployments(DeploymentsClient *client, const QString &task);
    void refreshVersions();
    void deployNext();
    QList<DeployedVersion> versions() const { return m_versions; }

    QPlainTextEdit *editor() const { return m_editor; }
    QComboBox *protocolVersionField() const { return m_protocol; }
    QLineEdit *appVersionField() const { return m_appVersion; }
    QPushButton *sendButton() const { return m_send; }
    QPushButton *deployButton() const { return m_deploy; }
    QTableWidget *versionsTable() const { return m_versionsTable; }
    QString validationText() const;

    // The key an edge proxy owns: sending a value under it warns that the
    // edge will replace it. Empty: no edge.
    void setEdgeNamespace(const QString &key);
    QString edgeNamespace() const { return m_edgeNamespace; }
    // Per turn, the keys sent and the keys the agent received.
    void setProvenanceModel(QAbstractItemModel *model);
    QTableView *provenanceView() const { return m_provenanceView; }

    static QList<QPair<QString, QJsonObject>> presets();

Q_SIGNALS:
    void sendRequested();
    void deployed(const sessionscope::DeployedVersion &version);
    void versionsChanged();
    void problem(const QString &message);

private:
    void onTextChanged();
    void onFieldsEdited();
    void updateDiff();
    void showVersions();

    QPointer<DeploymentsClient> m_deployments;
    QString m_edgeNamespace;
    QGroupBox *m_provenanceBox = nullptr;
    QTableView *m_provenanceView = nullptr;
    QString m_task;
    QList<DeployedVersion> m_versions;
    QJsonValue m_lastSent = QJsonValue::Undefined;
    bool m_syncing = false;

    QComboBox *m_presets;
    QComboBox *m_protocol;
    QLineEdit *m_appVersion;
    QPlainTextEdit *m_editor;
    QLabel *m_validation;
    QLabel *m_diff;
    QPushButton *m_send;
    QGroupBox *m_versionsBox;
    QTableWidget *m_versionsTable;
    QPushButton *m_deploy;
    QPushButton *m_refresh;
    QLabel *m_versionsNote;
};

} // namespace sessionscope
