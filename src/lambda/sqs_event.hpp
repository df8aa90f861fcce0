#pragma once

// Lambda's SQS event source mapping, seen from the function: the event's envelope (a batch of
// records) and the partial batch response (docs/lambda.md, "Scale out"). No network here.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "lambda/event.hpp"

namespace obsync::lambda {

// The most records an event source mapping hands one invocation (its BatchSize limit).
inline constexpr std::size_t k_max_sqs_records = 10'000;

// The batch of an event whose "Records" are SQS messages ("eventSource": "aws:sqs"), each body
// decoded by decode_message(). A record without a messageId, another event source (SNS, S3),
// or no records at all refuse the whole event (400): Lambda never sends those. The refusal's
// source is EventSource::sqs when any record is an SQS one: such an event must fail the
// invocation, never be answered (the event source mapping would delete every message).
std::variant<SqsBatch, Refusal> decode_sqs_event(const boost::json::object& event);

// The queue URL of an SQS queue ARN (arn:PARTITION:sqs:REGION:ACCOUNT:NAME):
// https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (amazonaws.com.cn in China). The calls go to the
// environment's endpoint anyway when one is set (aws::sqs_endpoint). Throws Error{bad_input}
// for anything else.
std::string queue_url_of_arn(std::string_view arn);

// The partial batch response: {"batchItemFailures": [{"itemIdentifier": id}, ...]}. The listed
// messages go back to the queue; the others are deleted by the event source mapping.
boost::json::object batch_response(const std::vector<std::string>& failed_message_ids);

}  // namespace obsync::lambda
