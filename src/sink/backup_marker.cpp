#include "sink/backup_marker.hpp"

#include <boost/json.hpp>

#include "util/clock.hpp"
#include "util/error.hpp"

namespace obsync::sink {

namespace {

std::string describe_vault(const BackupMarker& marker) {
    if (marker.vault_id.empty()) {
        return "another vault";
    }
    return marker.vault_name.empty()
               ? "vault " + marker.vault_id
               : "vault \"" + marker.vault_name + "\" (" + marker.vault_id + ")";
}

std::string string_field(const boost::json::object& o, std::string_view name) {
    const auto* value = o.if_contains(name);
    return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

std::string backup_marker_document(const sync::BackupIdentity& backup) {
    boost::json::object doc{{"format", backup.encrypted ? 2 : 1},
                            {"vault_id", backup.vault_id},
                            {"vault_name", backup.vault_name},
                            {"created", iso8601_utc(epoch_ms())}};
    if (backup.encrypted) {
        doc["layout"] = "encrypted";
        doc["encryption"] = boost::json::object{{"version", backup.encrypted->encryption_version},
                                                {"salt", backup.encrypted->salt},
                                                {"keyhash", backup.encrypted->keyhash},
                                                {"managed", backup.encrypted->managed}};
    }
    return boost::json::serialize(doc) + "\n";
}

BackupMarker parse_backup_marker(std::string_view document) {
    BackupMarker marker;
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(document, ec);
    if (ec || !doc.is_object()) {
        return marker;
    }
    const boost::json::object& o = doc.as_object();
    marker.vault_id = string_field(o, "vault_id");
    marker.vault_name = string_field(o, "vault_name");
    if (string_field(o, "layout") == "encrypted") {
        sync::EncryptedLayout layout;
        if (const auto* e = o.if_contains("encryption"); e != nullptr && e->is_object()) {
            const boost::json::object& encryption = e->as_object();
            if (const auto* v = encryption.if_contains("version"); v != nullptr && v->is_int64()) {
                layout.encryption_version = static_cast<int>(v->as_int64());
            }
            layout.salt = string_field(encryption, "salt");
            layout.keyhash = string_field(encryption, "keyhash");
            if (const auto* m = encryption.if_contains("managed"); m != nullptr && m->is_bool()) {
                layout.managed = m->as_bool();
            }
        }
        marker.encrypted = std::move(layout);
    }
    return marker;
}

void check_backup_marker(const BackupMarker& found, const sync::BackupIdentity& backup,
                         const std::string& where) {
    if (found.vault_id != backup.vault_id) {
        throw Error(ErrorKind::config, where + " holds the backup of " + describe_vault(found) +
                                           ": give each vault its own destination");
    }
    if (found.encrypted.has_value() != backup.encrypted.has_value()) {
        throw Error(ErrorKind::config,
                    where +
                        (found.encrypted ? " holds an encrypted backup (sync --encrypted)"
                                         : " holds a plaintext backup") +
                        " of this vault: one destination keeps one layout; " +
                        (found.encrypted ? "add --encrypted" : "choose another destination"));
    }
    if (found.encrypted && found.encrypted->keyhash != backup.encrypted->keyhash) {
        throw Error(ErrorKind::config,
                    where +
                        " holds an encrypted backup made with another key of this vault (its "
                        "password changed since): back it up into a new destination");
    }
}

}  // namespace obsync::sink
