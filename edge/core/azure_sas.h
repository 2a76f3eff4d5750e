/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure_sas.h - the SAS token an Azure IoT Hub device sends as its MQTT
 * password (docs: learn.microsoft.com/azure/iot-hub/iot-hub-dev-guide-sas):
 *   resource  = {hub host}/devices/{device id}
 *   signed    = URLENCODE(resource) "\n" expiry          (Unix seconds)
 *   sig       = base64(HMAC-SHA256(base64decode(device key), signed))
 *   token     = "SharedAccessSignature sr=" URLENCODE(resource)
 *               "&sig=" URLENCODE(sig) "&se=" expiry
 * URL-encoding keeps A-Z a-z 0-9 - _ . ~ and writes others as upper-case
 * %XX, as Microsoft's C SDK does. Also the MQTT user name of the device.
 * No heap; the key bytes are wiped after use.
 */
#ifndef MODAX_EDGE_AZURE_SAS_H
#define MODAX_EDGE_AZURE_SAS_H

#include <stddef.h>
#include <stdint.h>

#define MDX_AZURE_API_VERSION "2021-04-12"

/*
 * Writes the SAS token of device 'device' of hub 'hub_host' (e.g.
 * "myhub.azure-devices.net") signed with 'key_b64' (the device's
 * base64 key), valid until 'expiry_s', into 'out'. Returns its length, or
 * MDX_EINVAL (key not base64, empty names), MDX_EFULL ('out' too small).
 */
int mdx_azure_sas_token(const char *hub_host, const char *device, const char *key_b64,
                        uint64_t expiry_s, char *out, size_t cap);

/* Writes the MQTT user name "{hub_host}/{device}/?api-version=..." into 'out'. As above. */
int mdx_azure_username(const char *hub_host, const char *device, char *out, size_t cap);

#endif
