import { AppError } from '@controlplane/contracts';
import { SIGNATURE_HEADER, verifyRequestSignature, type NonceStore } from '@controlplane/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { parseJsonBody } from '../http/index.js';
import type { RecordAudit } from './gateway-audit.js';
import type { GatewayLimits } from './gateway-limits.js';
import { tableEntryOf, withHook } from './table-routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes exactly as received: what request signatures cover. */
    rawBody: Buffer | undefined;
    signatureVerified: boolean;
    /** Resource an audited route acted on, when the handler knows better than the path. */
    auditResource: { kind: string; id: string } | undefined;
  }
}

export interface RequestSignatureOptions {
  limits: Pick<GatewayLimits, 'bodyLimitBytes' | 'jsonMaxDepth' | 'signatureWindowSeconds'>;
  nonces: NonceStore;
  audit: RecordAudit;
}

/**
 * CP-SIG-V1 request signatures (docs/request-signing.md) on the routes whose table entry is
 * `signed`, and the audit event of each verified critical operation (the entry's `audit` action).
 * Wrapped with fastify-plugin: its body parser serves every route, and its hooks reach the route
 * plugins registered after it.
 */
export const requestSignatures = fp<RequestSignatureOptions>(
  async (app, o) => {
    // Same parser as every service, but keeping the bytes: signatures cover the body as received.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: o.limits.bodyLimitBytes }, (req, body, done) => {
      const raw = body as Buffer;
      req.rawBody = raw;
      try {
        done(null, parseJsonBody(raw.toString('utf8'), o.limits.jsonMaxDepth));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    app.decorateRequest('rawBody', undefined);
    app.decorateRequest('signatureVerified', false);
    app.decorateRequest('auditResource', undefined);

    async function verifySignature(req: FastifyRequest): Promise<void> {
      const p = req.principal!;
      try {
        await verifyRequestSignature({
          method: req.method,
          url: req.url,
          body: req.rawBody,
          header: req.headers[SIGNATURE_HEADER],
          // Only the calling key's own public key verifies: a signature by any other key is invalid.
          publicKeyFor: async (keyId) => (keyId === p.keyId ? p.signingPublicKey : undefined),
          nonceStore: o.nonces,
          windowSeconds: o.limits.signatureWindowSeconds,
        });
      } catch (err) {
        const code = err instanceof AppError ? err.code : 'INTERNAL';
        await o.audit(req, { action: 'signature.failed', outcome: 'denied', details: { route: req.routeOptions.config.spec?.id, code } });
        throw err;
      }
      req.signatureVerified = true;
    }

    const auditOperation = (action: string) => async (req: FastifyRequest, reply: FastifyReply) => {
      if (!req.signatureVerified) return; // refusals before this point have their own events
      const params = req.params as { id?: string; type?: string };
      const id = params.id ?? params.type;
      await o.audit(req, {
        action,
        outcome: reply.statusCode < 400 ? 'success' : 'failure',
        // The action names its resource kind: `runner.revoke` acts on the runner :id.
        resource: req.auditResource ?? (id ? { kind: action.split('.')[0]!, id } : undefined),
        details: { status: reply.statusCode },
      });
    };

    app.addHook('onRoute', (route) => {
      const spec = tableEntryOf(route);
      if (spec.signed) route.preHandler = withHook(route.preHandler, verifySignature);
      if (spec.audit) route.onResponse = withHook(route.onResponse, auditOperation(spec.audit));
    });
  },
  { name: 'gateway-request-signatures', fastify: '5.x', dependencies: ['gateway-access-control'] },
);
