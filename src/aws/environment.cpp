#include "aws/environment.hpp"

#include "net/url.hpp"
#include "util/env.hpp"
#include "util/error.hpp"

namespace obsync::aws {

namespace {

std::string require(const AwsEnvironment::Lookup& lookup, const char* name, const char* hint) {
    auto value = lookup(name);
    if (!value) {
        throw Error(ErrorKind::config, std::string(name) + " is not set: " + hint);
    }
    return std::move(*value);
}

// Checks the URL now, so a typo is a configuration error at start and not a failure per request.
std::string endpoint_base(std::optional<std::string> value, const char* name) {
    if (!value) {
        return {};
    }
    std::string text = std::move(*value);
    while (!text.empty() && text.back() == '/') {
        text.pop_back();
    }
    const net::Url url = net::Url::parse(text);
    if (url.target != "/") {
        throw Error(ErrorKind::config, std::string(name) + " must be scheme://host[:port] only");
    }
    return text;
}

}  // namespace

std::string_view signing_name(Service service) noexcept {
    switch (service) {
        case Service::s3:
            return "s3";
        case Service::dynamodb:
            return "dynamodb";
        case Service::secrets_manager:
            return "secretsmanager";
        case Service::sqs:
            return "sqs";
    }
    return "s3";
}

AwsEnvironment AwsEnvironment::from_environment() {
    return from_lookup([](const char* name) { return env_var(name); });
}

AwsEnvironment AwsEnvironment::from_lookup(const Lookup& lookup) {
    AwsEnvironment env;
    const char* keys_hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them)";
    env.m_credentials.access_key_id = require(lookup, "AWS_ACCESS_KEY_ID", keys_hint);
    env.m_credentials.secret_access_key = require(lookup, "AWS_SECRET_ACCESS_KEY", keys_hint);
    env.m_credentials.session_token = lookup("AWS_SESSION_TOKEN").value_or("");
    if (auto region = lookup("AWS_REGION")) {
        env.m_region = std::move(*region);
    } else {
        env.m_region = require(lookup, "AWS_DEFAULT_REGION", "set AWS_REGION, e.g. eu-west-1");
    }
    env.m_endpoint_default = endpoint_base(lookup("AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL");
    env.m_endpoint_s3 = endpoint_base(lookup("AWS_ENDPOINT_URL_S3"), "AWS_ENDPOINT_URL_S3");
    env.m_endpoint_dynamodb =
        endpoint_base(lookup("AWS_ENDPOINT_URL_DYNAMODB"), "AWS_ENDPOINT_URL_DYNAMODB");
    env.m_endpoint_secrets = endpoint_base(lookup("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
                                           "AWS_ENDPOINT_URL_SECRETS_MANAGER");
    env.m_endpoint_sqs = endpoint_base(lookup("AWS_ENDPOINT_URL_SQS"), "AWS_ENDPOINT_URL_SQS");
    if (auto style = lookup("OBSYNC_S3_ADDRESSING")) {
        if (*style == "path") {
            env.m_addressing = S3Addressing::path;
        } else if (*style == "virtual") {
            env.m_addressing = S3Addressing::virtual_hosted;
        } else {
            throw Error(ErrorKind::config, "OBSYNC_S3_ADDRESSING must be 'path' or 'virtual'");
        }
    }
    return env;
}

bool AwsEnvironment::custom_endpoint(Service service) const {
    switch (service) {
        case Service::s3:
            return !m_endpoint_s3.empty() || !m_endpoint_default.empty();
        case Service::dynamodb:
            return !m_endpoint_dynamodb.empty() || !m_endpoint_default.empty();
        case Service::secrets_manager:
            return !m_endpoint_secrets.empty() || !m_endpoint_default.empty();
        case Service::sqs:
            return !m_endpoint_sqs.empty() || !m_endpoint_default.empty();
    }
    return false;
}

std::string AwsEnvironment::endpoint(Service service) const {
    const std::string* specific = nullptr;
    switch (service) {
        case Service::s3:
            specific = &m_endpoint_s3;
            break;
        case Service::dynamodb:
            specific = &m_endpoint_dynamodb;
            break;
        case Service::secrets_manager:
            specific = &m_endpoint_secrets;
            break;
        case Service::sqs:
            specific = &m_endpoint_sqs;
            break;
    }
    if (!specific->empty()) {
        return *specific;
    }
    if (!m_endpoint_default.empty()) {
        return m_endpoint_default;
    }
    return "https://" + std::string(signing_name(service)) + "." + m_region + ".amazonaws.com";
}

bool AwsEnvironment::s3_path_style() const {
    switch (m_addressing) {
        case S3Addressing::path:
            return true;
        case S3Addressing::virtual_hosted:
            return false;
        case S3Addressing::automatic:
            break;
    }
    return custom_endpoint(Service::s3);
}

}  // namespace obsync::aws
