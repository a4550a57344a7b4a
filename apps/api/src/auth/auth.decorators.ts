import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';

export const ACCESS = 'billing:access';

/** Who may call a route. Routes without a decorator are admin-only. */
export type Access = { kind: 'public' } | { kind: 'admin' } | { kind: 'account'; param: string } | { kind: 'authenticated' };

export const Public = () => SetMetadata(ACCESS, { kind: 'public' } satisfies Access);
export const AdminOnly = () => applyDecorators(SetMetadata(ACCESS, { kind: 'admin' } satisfies Access), ApiBearerAuth());
/** The admin, or a key of the account named by the route parameter `param`. */
export const AccountReadable = (param = 'id') =>
  applyDecorators(SetMetadata(ACCESS, { kind: 'account', param } satisfies Access), ApiBearerAuth());

/** Any valid key; the service checks that an account key only reaches its own account's resources. */
export const Authenticated = () => applyDecorators(SetMetadata(ACCESS, { kind: 'authenticated' } satisfies Access), ApiBearerAuth());

export type Principal = { role: 'admin' } | { role: 'account'; accountId: string; keyId: string };

export const CurrentPrincipal = createParamDecorator(
  (_: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest().principal,
);
