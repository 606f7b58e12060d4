"""Errors of the service. Each class carries its HTTP status and message.

Handlers and the layers below raise these; ``api.middleware.FaultWrapper``
turns them into responses in one place, so no module maps errors to HTTP
by hand.
"""


class GlanceImportError(Exception):
    """Base error; ``message`` is a %-format filled from keyword args."""

    status = 500
    message = 'An unknown error occurred.'
    headers: dict = {}

    def __init__(self, message=None, headers=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                message = self.message
        self.msg = message
        if headers:
            self.headers = dict(headers)
        super().__init__(message)


class InvalidConfiguration(GlanceImportError):
    message = 'Invalid configuration: %(reason)s'


# 4xx -------------------------------------------------------------------

class BadRequest(GlanceImportError):
    status = 400
    message = 'Bad request.'


class Unauthorized(GlanceImportError):
    status = 401
    message = 'The request you have made requires authentication.'


class Forbidden(GlanceImportError):
    status = 403
    message = 'You are not authorized to complete this action.'


class NotFound(GlanceImportError):
    status = 404
    message = 'The resource could not be found.'


class MethodNotAllowed(GlanceImportError):
    status = 405
    message = 'The method is not allowed for this resource.'


class Conflict(GlanceImportError):
    status = 409
    message = 'The request conflicts with the current state.'


class Gone(GlanceImportError):
    status = 410
    message = 'The resource is gone.'


class RequestEntityTooLarge(GlanceImportError):
    status = 413
    message = 'Request entity is too large.'


class UnsupportedMediaType(GlanceImportError):
    status = 415
    message = 'Unsupported Content-Type.'


class RangeNotSatisfiable(GlanceImportError):
    status = 416
    message = 'Requested range not satisfiable.'


class RequestHeaderTooLarge(GlanceImportError):
    status = 431
    message = 'Request header field too large.'


class ServiceUnavailable(GlanceImportError):
    status = 503
    message = 'The service is unavailable.'


class BadGateway(GlanceImportError):
    status = 502
    message = 'Bad gateway.'


class GatewayTimeout(GlanceImportError):
    status = 504
    message = 'Gateway timeout.'


# Specific errors -------------------------------------------------------

class ImageNotFound(NotFound):
    message = 'No image found with ID %(image_id)s'


class TaskNotFound(NotFound):
    message = 'Task with the given id %(task_id)s not found'


class MemberNotFound(NotFound):
    message = 'Not found any membership for image %(image_id)s'


class ImportDisabled(NotFound):
    message = 'Image import is not supported at this site.'


class ReadOnlyAttribute(Forbidden):
    message = "Attribute '%(attribute)s' is read-only."


class ReservedAttribute(Forbidden):
    message = "Attribute '%(attribute)s' is reserved."


class PolicyNotAuthorized(Forbidden):
    message = 'Policy does not allow %(action)s to be performed.'


class ReadOnlyContext(Forbidden):
    message = 'Read-only access'


class DuplicateImage(Conflict):
    message = 'An image with identifier %(image_id)s already exists'


class InvalidImageStatusTransition(Conflict):
    message = 'Image status transition from %(cur_status)s to ' \
              '%(new_status)s is not allowed'


class ImportLockHeld(Conflict):
    message = "Image has active task"


class ImageSizeLimitExceeded(RequestEntityTooLarge):
    message = 'The provided image is too large.'


class StorageQuotaFull(RequestEntityTooLarge):
    message = 'The size of the data %(image_size)s will exceed the limit. ' \
              '%(remaining)s bytes remaining.'


class QuotaExceeded(RequestEntityTooLarge):
    message = 'Maximum number of %(resource)s exceeded (limit %(limit)s).'


class InvalidImageData(UnsupportedMediaType):
    message = 'Image data is not acceptable: %(reason)s'


class SignatureVerificationFailed(BadRequest):
    """The data does not match the image's img_signature properties, or
    they cannot be checked (Glance's message and status)."""
    message = 'Signature verification failed for image %(image_id)s: ' \
              '%(reason)s'


class StoreError(ServiceUnavailable):
    message = 'Image storage failed: %(reason)s'


class InUseByStore(Conflict):
    """The store keeps the data for something else (an RBD clone)."""
    message = 'The image data is in use: %(reason)s'


class ImportTaskError(GlanceImportError):
    """An import step failed; the text becomes the task's message."""
    message = '%(reason)s'


# Metadata definitions (/v2/metadefs): the messages are the API's, as
# clients and operators' scripts match them.

class MetadefNamespaceNotFound(NotFound):
    message = ('Metadata definition namespace=%(namespace_name)s '
               'was not found.')


class MetadefObjectNotFound(NotFound):
    message = ('The metadata definition object with name=%(object_name)s '
               'was not found in namespace=%(namespace_name)s.')


class MetadefPropertyNotFound(NotFound):
    message = ('The metadata definition property with '
               'name=%(property_name)s was not found in '
               'namespace=%(namespace_name)s.')


class MetadefTagNotFound(NotFound):
    message = ('The metadata definition tag with name=%(name)s was not '
               'found in namespace=%(namespace_name)s.')


class MetadefResourceTypeNotFound(NotFound):
    message = ('The metadata definition resource-type with '
               'name=%(resource_type_name)s, was not found.')


class MetadefResourceTypeAssociationNotFound(NotFound):
    message = ('The metadata definition resource-type association of '
               'resource-type=%(resource_type_name)s to '
               'namespace=%(namespace_name)s, was not found.')


class MetadefDuplicateNamespace(Conflict):
    message = ('The metadata definition namespace=%(namespace_name)s '
               'already exists.')


class MetadefDuplicateObject(Conflict):
    message = ('A metadata definition object with name=%(object_name)s '
               'already exists in namespace=%(namespace_name)s.')


class MetadefDuplicateProperty(Conflict):
    message = ('A metadata definition property with name=%(property_name)s '
               'already exists in namespace=%(namespace_name)s.')


class MetadefDuplicateTag(Conflict):
    message = ('A metadata tag with name=%(name)s already exists in '
               'namespace=%(namespace_name)s. (Please note that metadata '
               'tag names are case insensitive).')


class MetadefDuplicateResourceType(Conflict):
    message = ('A metadata definition resource-type with '
               'name=%(resource_type_name)s already exists.')


class MetadefDuplicateResourceTypeAssociation(Conflict):
    message = ('The metadata definition resource-type association of '
               'resource-type=%(resource_type_name)s to '
               'namespace=%(namespace_name)s already exists.')


class ProtectedMetadefNamespaceDelete(Forbidden):
    message = ('Metadata definition namespace %(namespace)s is protected '
               'and cannot be deleted.')


class ProtectedMetadefObjectDelete(Forbidden):
    message = ('Metadata definition object %(object_name)s is protected '
               'and cannot be deleted.')


class ProtectedMetadefNamespacePropDelete(Forbidden):
    message = ('Metadata definition property %(property_name)s is '
               'protected and cannot be deleted.')


class ProtectedMetadefTagDelete(Forbidden):
    message = ('Metadata definition tag %(tag_name)s is protected and '
               'cannot be deleted.')


class ProtectedMetadefResourceTypeAssociationDelete(Forbidden):
    message = ('Metadata definition resource-type-association '
               '%(resource_type)s is protected and cannot be deleted.')
