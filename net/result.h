#pragma once

#include <QString>

#include <utility>
#include <variant>

namespace sessionscope {

// An error as a value: what went wrong in words a user can act on, plus what a
// caller needs to decide whether to retry.
struct Error
{
    QString message;
    int httpStatus = 0;     // 0 when the failure is not an HTTP status
    bool retrySafe = false; // true when repeating the same request cannot do harm
    qint64 seq = -1;        // the stream seq the error concerns, -1 when none

    static Error make(QString message, qint64 seq = -1)
    {
        Error e;
        e.message = std::move(message);
        e.seq = seq;
        return e;
    }
};

// A std::expected-like result (C++20 has no std::expected yet).
template <typename T>
class Result
{
public:
    Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : m_state(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return m_state.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(m_state); }
    const T &value() const & { return std::get<0>(m_state); }
    T &&value() && { return std::get<0>(std::move(m_state)); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    const Error &error() const { return std::get<1>(m_state); }

private:
    std::variant<T, Error> m_state;
};

template <>
class Result<void>
{
public:
    Result() = default;
    Result(Error error) : m_error(std::move(error)), m_ok(false) {}

    bool ok() const { return m_ok; }
    explicit operator bool() const { return m_ok; }
    const Error &error() const { return m_error; }

private:
    Error m_error;
    bool m_ok = true;
};

} // namespace sessionscope
