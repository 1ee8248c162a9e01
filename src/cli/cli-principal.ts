import { userInfo } from 'node:os';
import { Principal } from '../tenants/tenant.types';

/** The CLI acts as an operator; the audit trail names it `cli:<os user>`. */
export function cliPrincipal(): Principal {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  return { kind: 'operator', actor: `cli:${user}` };
}
