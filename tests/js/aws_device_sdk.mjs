// SPDX-License-Identifier: Apache-2.0
// aws_device_sdk.mjs - Amazon's Node device SDK (aws-iot-device-sdk-v2, on
// the aws-crt native client) acting as a MODAX machine, so
// test_profiles_edge can compare its CONNECT fields and topics with
// modax-edge's aws-iot profile on a capturing broker. It connects with MQTT
// 3.1.1 (the mqtt311 client, as the aws-iot profile speaks) over mutual TLS
// with the device certificate, client id = the thing name, subscribes to the
// thing's commands topic at QoS 1, publishes one reading at QoS 1, then
// closes. The SDK's metrics user name ("?SDK=NodeJSv2&Version=...") is left
// on, as a device would send it. Usage:
// node aws_device_sdk.mjs HOST PORT CA CERT KEY TENANT THING
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { mqtt, iot } = require('aws-iot-device-sdk-v2');

const [host, port, ca, cert, key, tenant, thing] = process.argv.slice(2);
const timeout = setTimeout(() => {
    console.error('not done within 20 s');
    process.exit(1);
}, 20000);

const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(cert, key)
    .with_certificate_authority_from_path(undefined, ca)
    .with_endpoint(host)
    .with_port(Number(port))
    .with_client_id(thing)
    .build();
const connection = new mqtt.MqttClient().new_connection(config);

await connection.connect();
console.log('connected');
await connection.subscribe(`modax/${tenant}/${thing}/commands`, mqtt.QoS.AtLeastOnce,
    () => {});
const reading = { device_id: thing, timestamp: Date.now(), temperature_c: 41.5 };
await connection.publish(`modax/${tenant}/${thing}/sensor_data`, JSON.stringify(reading),
    mqtt.QoS.AtLeastOnce, false);
console.log('sent');
await connection.disconnect();
clearTimeout(timeout);
console.log('done');
process.exit(0);
