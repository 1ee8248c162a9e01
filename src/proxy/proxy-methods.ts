/**
 * Bot API methods the proxy refuses, by lower-case name (Telegram matches method names case-insensitively): each
 * would take the bot away from the gateway, which owns its webhook and receives its updates.
 */
const REFUSED: Record<string, string> = {
  setwebhook: 'setWebhook',
  deletewebhook: 'deleteWebhook',
  getupdates: 'getUpdates',
  logout: 'logOut',
  close: 'close',
};

/** The description of the 403 answer to a refused method, or null when the method may pass. */
export function refusedMethod(method: string): string | null {
  const name = REFUSED[method.toLowerCase()];
  if (!name) return null;
  const why =
    name === 'getUpdates'
      ? "the gateway owns this bot's webhook and receives its updates"
      : name === 'logOut' || name === 'close'
        ? "the gateway owns this bot's webhook and its connection to the Bot API"
        : "the gateway owns this bot's webhook (its operator sets it)";
  return `Forbidden: ${name} is refused by the gateway: ${why}`;
}

/** Methods counted by name in the proxy's metrics; any other is "other", so the label stays bounded. */
const KNOWN_METHODS = [
  'getMe',
  'sendMessage',
  'forwardMessage',
  'forwardMessages',
  'copyMessage',
  'copyMessages',
  'sendPhoto',
  'sendAudio',
  'sendDocument',
  'sendVideo',
  'sendAnimation',
  'sendVoice',
  'sendVideoNote',
  'sendMediaGroup',
  'sendLocation',
  'sendVenue',
  'sendContact',
  'sendPoll',
  'sendDice',
  'sendSticker',
  'sendChatAction',
  'sendInvoice',
  'setMessageReaction',
  'getFile',
  'getChat',
  'getChatMember',
  'getChatAdministrators',
  'getUserProfilePhotos',
  'banChatMember',
  'unbanChatMember',
  'restrictChatMember',
  'pinChatMessage',
  'unpinChatMessage',
  'leaveChat',
  'answerCallbackQuery',
  'answerInlineQuery',
  'answerPreCheckoutQuery',
  'answerShippingQuery',
  'editMessageText',
  'editMessageCaption',
  'editMessageMedia',
  'editMessageReplyMarkup',
  'stopPoll',
  'deleteMessage',
  'deleteMessages',
  'setMyCommands',
  'getMyCommands',
  'deleteMyCommands',
  'setChatMenuButton',
  'getWebhookInfo',
  ...Object.values(REFUSED),
];
const LABELS = new Map(KNOWN_METHODS.map((name) => [name.toLowerCase(), name]));

export function methodLabel(method: string): string {
  return LABELS.get(method.toLowerCase()) ?? 'other';
}
