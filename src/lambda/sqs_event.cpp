#include "lambda/sqs_event.hpp"

#include <boost/json/array.hpp>

#include "util/ascii.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::lambda {

namespace json = boost::json;

namespace {

// The source of an envelope's refusal: SQS when any record says it comes from SQS (then the
// function fails the invocation, so that the event source mapping keeps the messages), else
// direct (another service's batch, answered with a refusal).
Refusal refused(std::string message, EventSource source = EventSource::sqs) {
    return Refusal{source, 400, backup::Failure{ErrorKind::bad_input, std::move(message)}};
}

bool any_sqs_record(const json::array& records) {
    for (const json::value& value : records) {
        if (value.is_object()) {
            const json::value* source = value.get_object().if_contains("eventSource");
            if (source != nullptr && source->is_string() && source->get_string() == "aws:sqs") {
                return true;
            }
        }
    }
    return false;
}

const json::string* string_member(const json::object& object, std::string_view key) {
    const json::value* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? &value->get_string() : nullptr;
}

// ApproximateReceiveCount is a decimal string; anything else counts as a first receive.
int receive_count(const json::object& record) {
    const json::value* attributes = record.if_contains("attributes");
    if (attributes == nullptr || !attributes->is_object()) {
        return 1;
    }
    const json::string* text = string_member(attributes->get_object(), "ApproximateReceiveCount");
    if (text == nullptr || text->empty() || text->size() > 6) {
        return 1;
    }
    int n = 0;
    for (const char c : *text) {
        if (!is_ascii_digit(c)) {
            return 1;
        }
        n = n * 10 + (c - '0');
    }
    return n < 1 ? 1 : n;
}

}  // namespace

std::variant<SqsBatch, Refusal> decode_sqs_event(const json::object& event) {
    const json::value* records = event.if_contains("Records");
    if (records == nullptr || !records->is_array() || records->get_array().empty()) {
        return refused("an event with 'Records' must have a non-empty array of them",
                       EventSource::direct);
    }
    const EventSource shape =
        any_sqs_record(records->get_array()) ? EventSource::sqs : EventSource::direct;
    if (records->get_array().size() > k_max_sqs_records) {
        return refused("an SQS event has at most " + std::to_string(k_max_sqs_records) + " records",
                       shape);
    }
    SqsBatch batch;
    for (const json::value& value : records->get_array()) {
        if (!value.is_object()) {
            return refused("every record of an SQS event must be an object", shape);
        }
        const json::object& record = value.get_object();
        const json::string* source = string_member(record, "eventSource");
        if (source == nullptr || *source != "aws:sqs") {
            return refused(
                "only SQS events are accepted with 'Records' (eventSource aws:sqs): invoke the "
                "function directly, through its URL, API Gateway, an EventBridge schedule or its "
                "SQS queue",
                shape);
        }
        const json::string* id = string_member(record, "messageId");
        if (id == nullptr || id->empty()) {
            return refused("an SQS record has no messageId", shape);
        }
        SqsRecord out;
        out.message_id = std::string(*id);
        if (const json::string* handle = string_member(record, "receiptHandle")) {
            out.receipt_handle = std::string(*handle);
        }
        if (const json::string* arn = string_member(record, "eventSourceARN")) {
            out.queue_arn = std::string(*arn);
        }
        out.receive_count = receive_count(record);
        const json::string* body = string_member(record, "body");
        if (body == nullptr) {
            out.message = refused("the message has no body");
        } else {
            out.body = std::string(*body);
            out.message = decode_message(out.body);
        }
        batch.records.push_back(std::move(out));
    }
    return batch;
}

std::string queue_url_of_arn(std::string_view arn) {
    // arn:PARTITION:sqs:REGION:ACCOUNT:NAME
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (int i = 0; i < 5; ++i) {
        const std::size_t colon = arn.find(':', start);
        if (colon == std::string_view::npos) {
            break;
        }
        parts.push_back(arn.substr(start, colon - start));
        start = colon + 1;
    }
    parts.push_back(arn.substr(start));
    const auto fail = [&]() -> std::string {
        throw Error(ErrorKind::bad_input, "not an SQS queue ARN: " + display_name(arn) +
                                              " (expected arn:aws:sqs:REGION:ACCOUNT:NAME)");
    };
    if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[3].empty() ||
        parts[4].empty() || parts[5].empty()) {
        return fail();
    }
    for (const auto part : {parts[1], parts[3], parts[4], parts[5]}) {
        for (const char c : part) {
            if (!is_ascii_alnum(c) && c != '-' && c != '_' && c != '.') {
                return fail();
            }
        }
    }
    const std::string domain = parts[1] == "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com";
    return "https://sqs." + std::string(parts[3]) + "." + domain + "/" + std::string(parts[4]) +
           "/" + std::string(parts[5]);
}

json::object batch_response(const std::vector<std::string>& failed_message_ids) {
    json::array failures;
    for (const std::string& id : failed_message_ids) {
        failures.push_back(json::object{{"itemIdentifier", id}});
    }
    return json::object{{"batchItemFailures", std::move(failures)}};
}

}  // namespace obsync::lambda
