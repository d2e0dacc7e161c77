// interop.js - the official `stripe` package (pinned in package.json) against
// souk: its sandbox API and its webhook signatures. Called by
// tests/api/test_payments_interop.py; one JSON object out on stdout.
//
//   node interop.js session API_BASE SECRET_KEY   create + retrieve a Checkout Session
//   node interop.js construct SECRET              stdin {payload, header} -> constructEvent
//   node interop.js sign SECRET [TIMESTAMP]       stdin payload -> generateTestHeaderString
'use strict';

const Stripe = require('stripe');

function readStdin() {
  return new Promise((resolve) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function session(apiBase, key) {
  const u = new URL(apiBase);
  const stripe = new Stripe(key, {
    host: u.hostname,
    port: Number(u.port),
    protocol: u.protocol.replace(':', ''),
    maxNetworkRetries: 1,
  });
  const created = await stripe.checkout.sessions.create({
    mode: 'payment',
    success_url: 'http://127.0.0.1/ok?s={CHECKOUT_SESSION_ID}',
    cancel_url: 'http://127.0.0.1/cancel',
    client_reference_id: 'interop_1',
    metadata: { order_id: '42' },
    payment_intent_data: { metadata: { order_id: '42' } },
    line_items: [
      { price_data: { currency: 'eur', unit_amount: 2500, product_data: { name: 'Poster' } }, quantity: 2 },
    ],
  });
  const retrieved = await stripe.checkout.sessions.retrieve(created.id);
  return { created, retrieved };
}

function construct(secret, input) {
  const { payload, header } = JSON.parse(input);
  const stripe = new Stripe('sk_test_unused');
  try {
    const ev = stripe.webhooks.constructEvent(payload, header, secret);
    return { ok: true, id: ev.id, type: ev.type };
  } catch (e) {
    return { ok: false, error: String(e.message) };
  }
}

function sign(secret, timestamp, payload) {
  const stripe = new Stripe('sk_test_unused');
  const opts = { payload, secret };
  if (timestamp) opts.timestamp = Number(timestamp);
  return { header: stripe.webhooks.generateTestHeaderString(opts) };
}

async function main() {
  const [cmd, a, b] = process.argv.slice(2);
  let out;
  if (cmd === 'session') out = await session(a, b);
  else if (cmd === 'construct') out = construct(a, await readStdin());
  else if (cmd === 'sign') out = sign(a, b, await readStdin());
  else throw new Error('usage: interop.js session|construct|sign ...');
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.message), type: e && e.type }) + '\n');
  process.exit(1);
});
