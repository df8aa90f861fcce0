#include "lambda/runtime_client.hpp"

#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::lambda {

namespace asio = boost::asio;

namespace {

constexpr std::string_view k_function_error_type = "Lambda-Runtime-Function-Error-Type";

// Request ids are UUIDs; anything else is %-escaped so that it stays one path segment.
std::string path_segment(std::string_view text) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += k_hex[byte >> 4];
            out += k_hex[byte & 0x0f];
        }
    }
    return out;
}

// A header value cannot hold CR, LF or other controls; error types are ours, but the header
// must never break the request whatever a caller passes.
std::string header_value(std::string_view text) {
    std::string out;
    for (const char c : text) {
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '_' : c;
    }
    return out;
}

std::string error_document(std::string_view error_type, std::string_view message) {
    return boost::json::serialize(boost::json::object{
        {"errorMessage", to_valid_utf8(message)},
        {"errorType", to_valid_utf8(error_type)},
        {"stackTrace", boost::json::array{}},
    });
}

net::HttpRequest post(std::string url, std::string body) {
    net::HttpRequest request;
    request.method = "POST";
    request.url = std::move(url);
    request.headers = {{"Content-Type", "application/json"}};
    request.body = std::move(body);
    return request;
}

// What the Runtime API says about a refused call: its errorType, when the body has one.
std::string refusal_detail(const net::HttpResponse& response) {
    boost::json::error_code ec;
    const auto document = boost::json::parse(response.body, ec);
    if (ec || !document.is_object()) {
        return "";
    }
    const auto* type = document.get_object().if_contains("errorType");
    if (type == nullptr || !type->is_string()) {
        return "";
    }
    return " (" + display_name(type->get_string()) + ")";
}

}  // namespace

RuntimeClient::RuntimeClient(net::HttpClient& http, std::string_view api)
    : m_http(http), m_base("http://" + std::string(api) + "/2018-06-01/runtime") {}

asio::awaitable<net::HttpResponse> RuntimeClient::send(net::HttpRequest request,
                                                       std::string_view what) {
    net::HttpResponse response = co_await m_http.send(std::move(request));
    if (response.status >= 200 && response.status < 300) {
        co_return response;
    }
    std::string message = "Lambda Runtime API: " + std::string(what) + " answered HTTP " +
                          std::to_string(response.status) + refusal_detail(response);
    if (response.status == 413) {
        message += ": the body is larger than the Runtime API accepts";
    }
    throw Error(ErrorKind::network, message);
}

asio::awaitable<Invocation> RuntimeClient::next() {
    net::HttpRequest request;
    request.url = m_base + "/invocation/next";
    // Lambda answers when an event arrives, possibly hours later (the environment is frozen
    // meanwhile): any time limit would only turn an idle function into a failing one.
    request.long_poll = true;
    net::HttpResponse response = co_await send(std::move(request), "GET /invocation/next");

    Invocation invocation;
    const auto id = response.header("Lambda-Runtime-Aws-Request-Id");
    if (!id || id->empty()) {
        throw Error(ErrorKind::protocol,
                    "Lambda Runtime API: the invocation has no Lambda-Runtime-Aws-Request-Id "
                    "header");
    }
    invocation.request_id = std::string(*id);
    const auto deadline = response.header("Lambda-Runtime-Deadline-Ms");
    const auto* end = deadline ? deadline->data() + deadline->size() : nullptr;
    if (!deadline || deadline->empty() ||
        std::from_chars(deadline->data(), end, invocation.deadline).ptr != end ||
        invocation.deadline <= 0) {
        throw Error(ErrorKind::protocol,
                    "Lambda Runtime API: the invocation has no valid Lambda-Runtime-Deadline-Ms "
                    "header");
    }
    invocation.function_arn = std::string(
        response.header("Lambda-Runtime-Invoked-Function-Arn").value_or(std::string_view{}));
    invocation.trace_id =
        std::string(response.header("Lambda-Runtime-Trace-Id").value_or(std::string_view{}));
    invocation.payload = std::move(response.body);
    co_return invocation;
}

asio::awaitable<void> RuntimeClient::post_response(std::string_view request_id, std::string body) {
    co_await send(
        post(m_base + "/invocation/" + path_segment(request_id) + "/response", std::move(body)),
        "POST /invocation/{id}/response");
}

asio::awaitable<void> RuntimeClient::post_error(std::string_view request_id,
                                                std::string_view error_type,
                                                std::string_view message) {
    net::HttpRequest request = post(m_base + "/invocation/" + path_segment(request_id) + "/error",
                                    error_document(error_type, message));
    request.headers.emplace_back(k_function_error_type, header_value(error_type));
    co_await send(std::move(request), "POST /invocation/{id}/error");
}

asio::awaitable<void> RuntimeClient::post_init_error(std::string_view error_type,
                                                     std::string_view message) {
    net::HttpRequest request = post(m_base + "/init/error", error_document(error_type, message));
    request.headers.emplace_back(k_function_error_type, header_value(error_type));
    co_await send(std::move(request), "POST /init/error");
}

}  // namespace obsync::lambda
