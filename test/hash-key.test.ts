import { test } from 'tap'
import type { FastifyRequest } from 'fastify'
import { cookieValue, hashKeyOf } from '../lib/balancers/hash-key.js'

const request = {
  ip: '203.0.113.7',
  url: '/cart?id=1',
  headers: { 'x-user': 'alice', 'x-multi': ['first', 'second'], 'x-empty': [], cookie: 'a=1; session=abc; sessionx=no' }
} as unknown as FastifyRequest
const opts = { method: 'GET', path: '/direct', headers: { 'x-user': 'bob', cookie: 'session=fromopts' } }

test('hash keys of a Fastify request', async (t) => {
  t.equal(hashKeyOf({ kind: 'ip' }, request, opts), '203.0.113.7')
  t.equal(hashKeyOf({ kind: 'url' }, request, opts), '/cart?id=1')
  t.equal(hashKeyOf({ kind: 'header', name: 'x-user' }, request, opts), 'alice')
  t.equal(hashKeyOf({ kind: 'header', name: 'x-multi' }, request, opts), 'first', 'a repeated header hashes its first value')
  t.equal(hashKeyOf({ kind: 'header', name: 'x-empty' }, request, opts), '')
  t.equal(hashKeyOf({ kind: 'header', name: 'x-missing' }, request, opts), '')
  t.equal(hashKeyOf({ kind: 'cookie', name: 'session' }, request, opts), 'abc')
  t.equal(hashKeyOf({ kind: 'function', fn: (r) => `${r.ip}!` }, request, opts), '203.0.113.7!')
})

test('hash keys without a Fastify request come from the dispatch options', async (t) => {
  t.equal(hashKeyOf({ kind: 'ip' }, undefined, opts), '')
  t.equal(hashKeyOf({ kind: 'url' }, undefined, opts), '/direct')
  t.equal(hashKeyOf({ kind: 'header', name: 'x-user' }, undefined, opts), 'bob')
  t.equal(hashKeyOf({ kind: 'cookie', name: 'session' }, undefined, opts), 'fromopts')
  t.equal(hashKeyOf({ kind: 'function', fn: () => 'x' }, undefined, opts), '')
  t.equal(hashKeyOf({ kind: 'header', name: 'x-user' }, undefined, { method: 'GET', path: '/' }), '')
})

test('cookieValue finds exactly the named cookie', async (t) => {
  t.equal(cookieValue('session=1', 'session'), '1')
  t.equal(cookieValue('xsession=1; session=2', 'session'), '2', 'a name that merely ends with it is skipped')
  t.equal(cookieValue('sessionx=1', 'session'), '')
  t.equal(cookieValue('a=1;session= 3 ', 'session'), '3')
  t.equal(cookieValue('session', 'session'), '')
  t.equal(cookieValue('', 'session'), '')
})
