import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsString, Length } from 'class-validator';
import { CreatedProxyCredential, ProxyCredentialView } from '../../proxy/proxy-credentials.service';
import { trimmed } from './validation';

export class CreateProxyCredentialDto {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: 'orders service',
    maxLength: 100,
    description: 'What the credential is for (shown in lists)',
  })
  @Transform(trimmed)
  @IsOptional()
  @Length(1, 100)
  @IsString()
  name?: string | null;
}

export class ProxyCredentialDto implements ProxyCredentialView {
  @ApiProperty({
    example: '9c1f3a5e7b2d4c60',
    description: 'Not secret: names the credential in lists and the audit trail',
  })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  botId!: string;

  @ApiProperty({ type: String, nullable: true, example: 'orders service' })
  name!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ example: 'key:3f9a1c2b4d5e6f70', description: 'Who created it' })
  createdBy!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Updated at most once a minute' })
  lastUsedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt!: string | null;
}

export class CreatedProxyCredentialDto implements CreatedProxyCredential {
  @ApiProperty({
    example: '7123456789:tgwp9c1f3a5e7b2d4c60Qx…',
    description:
      "The credential: use it as the bot's token against apiRoot. Shown this once, never again (only a hash is " +
      "stored). It starts with the bot's Telegram id, like a token.",
  })
  credential!: string;

  @ApiProperty({
    example: 'https://gateway.example.com/telegram',
    description: "The proxy's API root: PUBLIC_URL + PROXY_PATH (any URL that reaches the API process works too)",
  })
  apiRoot!: string;

  @ApiProperty({ type: ProxyCredentialDto })
  proxyCredential!: ProxyCredentialDto;
}

export class RotatedProxyCredentialDto extends CreatedProxyCredentialDto {
  @ApiProperty({ type: ProxyCredentialDto, description: 'The credential it replaces, now revoked' })
  revoked!: ProxyCredentialDto;
}
