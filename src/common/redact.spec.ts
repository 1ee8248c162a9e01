import { describe, expect, it } from 'vitest';
import { redactSecrets, redactUrl } from './redact';

const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ';

describe('redactSecrets', () => {
  it('removes the token from a webhook path', () => {
    expect(redactUrl(`/webhook/${token}?x=1`)).toBe('/webhook/<redacted>');
    expect(redactSecrets(`POST /webhook/${encodeURIComponent(token)} failed`)).toBe('POST /webhook/<redacted> failed');
  });

  it('removes the token from a Bot API URL and from free text', () => {
    expect(redactSecrets(`GET https://api.telegram.org/bot${token}/getMe`)).toBe(
      'GET https://api.telegram.org/bot<redacted>/getMe',
    );
    expect(redactSecrets(`token is ${token}.`)).toBe('token is <redacted-token>.');
  });

  it('leaves ordinary text alone', () => {
    expect(redactSecrets('update 42 of chat -100123 processed at 12:30:45')).toBe(
      'update 42 of chat -100123 processed at 12:30:45',
    );
  });
});
