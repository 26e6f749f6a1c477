import { z } from 'zod';

export const IsoDateTime = z.iso.datetime({ offset: true });
/** A JSON object (string keys, JSON values). */
export const JsonObject = z.record(z.string(), z.json());
export const Identifier = z.string().min(1).max(256);
