#pragma once

#include "net/connectionprofile.h"

#include <QDialog>
#include <QPointer>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;

namespace sessionscope {

class ProfileStore;

// Manages connection profiles: cloud, self-hosted or embedded, a base URL
// with optional per-endpoint overrides (sessions, in, out), and the secret
// key, which ProfileStore keeps in the keychain (or a 0600 file where no
// keychain runs). "Connect" hands the resolved profile to the main window.
class ConnectionsDialog : public QDialog
{
    Q_OBJECT

public:
    explicit ConnectionsDialog(ProfileStore *store, QWidget *parent = nullptr);

Q_SIGNALS:
    void connectRequested(const sessionscope::ConnectionProfile &profile);
    void embeddedRequested();

private:
    void reload();
    void showProfile(const QString &name);
    void save();
    void removeCurrent();
    void connectCurrent();
    void setStatus(const QString &text, bool error = false);
    ConnectionProfile formProfile() const;

    QPointer<ProfileStore> m_store;
    QListWidget *m_list;
    QLineEdit *m_name;
    QComboBox *m_kind;
    QLineEdit *m_baseUrl;
    QLineEdit *m_sessionsUrl;
    QLineEdit *m_inUrl;
    QLineEdit *m_outUrl;
    QLineEdit *m_key;
    QLineEdit *m_edgeNamespace;
    QLabel *m_status;
};

} // namespace sessionscope
