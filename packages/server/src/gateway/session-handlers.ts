import { AppError } from '@controlplane/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RecordAudit } from './gateway-audit.js';
import type { SessionLimits, SessionStore } from './ui-sessions.js';
import { checkSameOrigin, clearSessionCookie, setSessionCookie } from './ui-sessions.js';

export interface SessionHandlerDeps {
  sessions: SessionStore;
  limits: SessionLimits;
  audit: RecordAudit;
}

/** What the dashboard learns about its session: who it acts as, and the token its writes carry. */
function sessionView(req: FastifyRequest, limits: SessionLimits, csrfToken: string | null, expiresAt: Date | null) {
  const p = req.principal!;
  return {
    keyId: p.keyId,
    tenantId: p.tenantId,
    role: p.role,
    platformAdmin: p.platformAdmin,
    csrfToken,
    expiresAt: expiresAt?.toISOString() ?? null,
    idleTimeoutSeconds: limits.sessionIdleSeconds,
  };
}

export function sessionHandlers(d: SessionHandlerDeps) {
  return {
    /**
     * Sign-in: the API key (Authorization: Bearer) has been checked like on any route; it becomes a
     * session. A session cannot open another one, or it could outlive its absolute expiry.
     */
    create: async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.uiSession) throw new AppError('FORBIDDEN', { message: 'sign in with an API key, not with a session' });
      checkSameOrigin(req);
      const s = await d.sessions.open(req.principal!);
      setSessionCookie(reply, s.token);
      await d.audit(req, { action: 'session.create', outcome: 'success', resource: { kind: 'apikey', id: req.principal!.keyId } });
      return reply.code(201).send(sessionView(req, d.limits, s.csrfToken, s.expiresAt));
    },
    get: async (req: FastifyRequest) => {
      const s = req.uiSession;
      return sessionView(req, d.limits, s?.csrfToken ?? null, s?.expiresAt ?? null);
    },
    /** Sign-out: the session row goes, so the cookie is worthless even if it was copied. */
    end: async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.uiSession) {
        await d.sessions.close(req.uiSession.tokenHash);
        await d.audit(req, { action: 'session.end', outcome: 'success', resource: { kind: 'apikey', id: req.principal!.keyId } });
      }
      clearSessionCookie(reply);
      return reply.code(204).send();
    },
  };
}
