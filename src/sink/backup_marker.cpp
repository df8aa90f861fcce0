#include "sink/backup_marker.hpp"

#include <boost/json.hpp>

#include "util/clock.hpp"

namespace obsync::sink {

std::string backup_marker_document(const sync::BackupIdentity& backup) {
    return boost::json::serialize(boost::json::object{{"format", 1},
                                                      {"vault_id", backup.vault_id},
                                                      {"vault_name", backup.vault_name},
                                                      {"created", iso8601_utc(epoch_ms())}}) +
           "\n";
}

BackupMarker parse_backup_marker(std::string_view document) {
    BackupMarker marker;
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(document, ec);
    if (!ec && doc.is_object()) {
        const boost::json::object& o = doc.as_object();
        if (const auto* id = o.if_contains("vault_id"); id != nullptr && id->is_string()) {
            marker.vault_id = std::string(id->as_string());
        }
        if (const auto* name = o.if_contains("vault_name"); name != nullptr && name->is_string()) {
            marker.vault_name = std::string(name->as_string());
        }
    }
    return marker;
}

}  // namespace obsync::sink
