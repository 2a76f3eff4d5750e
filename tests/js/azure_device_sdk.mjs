// SPDX-License-Identifier: Apache-2.0
// azure_device_sdk.mjs - Microsoft's Node device SDK (azure-iot-device with
// the azure-iot-device-mqtt transport) acting as a MODAX machine, so
// test_profiles_edge can compare its CONNECT fields and topics with
// modax-edge's azure-iot-hub profile on a capturing broker. It connects,
// listens for direct methods and cloud-to-device messages, sends one
// reading with the MODAX properties, answers one direct method with 200,
// then closes. Usage: node azure_device_sdk.mjs CONNECTION_STRING CA_FILE
// (the connection string's GatewayHostName=HOST:PORT points it at the
// broker; HostName stays the hub's name, as in the user name).
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const [connectionString, caFile] = process.argv.slice(2);
const client = Client.fromConnectionString(connectionString, Mqtt);
client.setOptions({ ca: fs.readFileSync(caFile, 'utf8') });

const answered = new Promise((resolve) => {
    client.onDeviceMethod('command', (request, response) => {
        response.send(200, { device_id: 'm-0001', command_id: 1, status: 'ok' }, () => resolve());
    });
});
client.on('message', (msg) => client.complete(msg, () => {}));

await client.open();
const reading = new Message(JSON.stringify({ device_id: 'm-0001', timestamp: Date.now() }));
reading.properties.add('modax-tenant', 'acme.eu');
reading.properties.add('modax-leaf', 'sensor_data');
reading.properties.add('modax-form', 'cloud');
reading.contentType = 'application/json';
reading.contentEncoding = 'utf-8';
await client.sendEvent(reading);
console.log('sent');
const timeout = setTimeout(() => {
    console.error('no direct method within 20 s');
    process.exit(1);
}, 20000);
await answered;
clearTimeout(timeout);
await client.close();
console.log('done');
process.exit(0);
